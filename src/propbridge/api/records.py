"""Serving synced records: the caller's scope, Propexo's core fields, filters and list envelopes.

One scoped statement builder for every read, so no query can forget whose records it may show.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy import JSON, Select, String, false, select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute

from propbridge.api.dependencies import Reader, read_connection, require_scope
from propbridge.api.documents import envelope, serve_document
from propbridge.api.errors import bad_request, issue, not_found
from propbridge.api.listing import parse_list_query, parse_timestamp, run_list
from propbridge.api.openapi import COMPONENTS_KEY, envelope_schemas, ok_with
from propbridge.api.parameters import QueryParam, choice, documented, moment, paging, text
from propbridge.auth.service import Principal
from propbridge.db.synced import UNSERVED_COLUMNS, Render, render_document, served_columns
from propbridge.db.table_versions import table_versions
from propbridge.integrations.models import Integration

# Propexo's integration vendors (a filter may name any of them; propbridge connects to ResMan).
PROPEXO_VENDORS = (
    "SAMPLE2",
    "BUILDIUM",
    "ENTRATA",
    "MRI",
    "PROPERTYWARE",
    "PROPERTYWARE_REST",
    "REALPAGE",
    "REALPAGE_RPX",
    "RENTMANAGER",
    "RENTVINE",
    "RESMAN",
    "SAMPLE1",
)
PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Propexo objects for a page of rows (may read related tables, e.g. resident-to-lease links).
Presenter = Callable[[Reader, Sequence[Any]], Awaitable[list[dict[str, Any]]]]


class VisibilityCache:
    """The live integrations each allow-list may see, reused until an integration changes
    (every change of one bumps the `integrations` table version)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: dict[Any, list[str]] = {}
        self._max_entries = max_entries

    async def visible(self, db: Reader, principal: Principal, version: int) -> list[str]:
        """Ids of the live integrations the principal may see."""
        allowed = principal.integration_ids
        key = (None if allowed is None else tuple(sorted(allowed)), version)
        ids = self._entries.get(key)
        if ids is None:
            ids = await visible_integrations(db, principal)
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = ids
        return ids


async def visible_integrations(db: Reader, principal: Principal) -> list[str]:
    """Live integrations the principal may see."""
    statement = select(Integration.id).where(Integration.deleted_at.is_(None))
    if principal.integration_ids is not None:
        statement = statement.where(Integration.id.in_(principal.integration_ids))
    return list((await db.execute(statement)).scalars())


async def scoped(
    request: Request,
    db: Reader,
    model: Any,
    principal: Principal,
    columns: Sequence[Any],
    wanted: str | None = None,
) -> Select[Any]:
    """SELECT of some columns of a model, limited to the integrations the principal may see (and, if given,
    to the one integration asked for).

    Reads the versions of the model's table and of `integrations` first (kept on
    `request.state.table_versions` for the count cache). The ids are written into the query as
    plain values, so that both engines can walk the `(integration_id, ...)` indexes instead of
    joining a subquery.
    """
    versions = await table_versions(db, (model.__tablename__, "integrations"))
    request.state.table_versions = versions
    cache: VisibilityCache = request.app.state.visibility_cache
    ids = await cache.visible(db, principal, versions[1])
    if wanted is not None:
        ids = [wanted] if wanted in ids else []
    condition = model.integration_id == ids[0] if len(ids) == 1 else model.integration_id.in_(ids)
    return select(*columns).where(condition)


@functools.cache
def document_columns(model: Any) -> list[Any]:
    """A stored document and what is spliced into it: `last_seen` as stored (SQLite: text),
    parsed once per distinct value when served."""
    return [model.id, model.document, type_coerce(model.last_seen, String).label("seen")]


@dataclass(frozen=True)
class RecordView:
    """How a model's records are served: `render`ed from their own row (and then stored as
    documents at sync time), or `present`ed a page at a time (when other tables are needed)."""

    render: Render | None = None
    present: Presenter | None = None

    def columns(self, model: Any) -> list[Any]:
        """What a read selects: the stored document, or every served column."""
        return document_columns(model) if self.render is not None else served_columns(model)

    async def documents(self, db: Reader, model: Any, rows: Sequence[Any]) -> list[str]:
        """The serialised objects of a page of rows selected with `columns`."""
        if self.render is None:
            assert self.present is not None
            return [orjson.dumps(obj).decode() for obj in await self.present(db, rows)]
        # Rows written before documents existed are rendered from their columns.
        missing = [row.id for row in rows if row.document is None]
        rendered: dict[str, str] = {}
        if missing:
            full = await db.execute(select(*served_columns(model)).where(model.id.in_(missing)))
            rendered = {row.id: render_document(self.render, row._mapping) for row in full}
        stamps: dict[Any, str] = {}
        return [serve_document(row.document or rendered[row.id], row.seen, stamps) for row in rows]


@functools.cache
def orderable_columns(model: Any) -> dict[str, InstrumentedAttribute[Any]]:
    """Columns a client may order by: every stored public column but JSON ones."""
    hidden = UNSERVED_COLUMNS | {"custom_data"}
    return {
        column.key: getattr(model, column.key)
        for column in model.__table__.columns
        # JSON values have no order (PostgreSQL cannot sort `json`).
        if column.key not in hidden and not isinstance(column.type, JSON)
    }


async def scoped_list(
    db: Reader, request: Request, model: Any, principal: Principal, columns: Sequence[Any]
) -> Select[Any]:
    """The principal's records of a model, with the filters every synced model takes:
    integration, vendor, property, x_id, timestamps."""
    params = request.query_params
    statement = await scoped(
        request, db, model, principal, columns, params.get("integration_id") or None
    )
    vendor = vendor_param(request)
    if vendor is not None:
        statement = statement.where(model.integration_vendor == vendor)
    if params.get("location_id"):
        # ResMan has no locations (`x_location_id` is always null): nothing is at one.
        statement = statement.where(false())
    if params.get("property_id") and "property_id" in model.__table__.columns:
        statement = statement.where(model.property_id == params["property_id"])
    if params.get("x_id"):
        statement = statement.where(model.x_id == params["x_id"])
    if params.get("x_property_id"):
        statement = statement.where(model.x_property_id == params["x_property_id"])
    for name, column, op in (
        ("updated_at_gte", model.updated_at, "ge"),
        ("updated_at_lte", model.updated_at, "le"),
        ("last_seen_gte", model.last_seen, "ge"),
        ("last_seen_lte", model.last_seen, "le"),
    ):
        moment = parse_timestamp(request, name)
        if moment is not None:
            statement = statement.where(column >= moment if op == "ge" else column <= moment)
    return statement


def vendor_param(request: Request) -> str | None:
    """`integration_vendor`: one of Propexo's vendors; 400 otherwise."""
    vendor = request.query_params.get("integration_vendor") or None
    if vendor is not None and vendor not in PROPEXO_VENDORS:
        raise bad_request(
            "Unknown integration_vendor",
            [issue(["integration_vendor"], f"Expected one of {', '.join(PROPEXO_VENDORS)}")],
        )
    return vendor


def bool_param(request: Request, name: str) -> bool | None:
    """`true`/`false` query parameters; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false", [issue([name], "Expected a boolean")])


def date_param(request: Request, name: str) -> str | None:
    """A `YYYY-MM-DD` query parameter; 400 when malformed."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        if not PLAIN_DATE.match(raw):
            raise ValueError
        date.fromisoformat(raw)
    except ValueError:
        raise bad_request(
            f"{name} must be a date (YYYY-MM-DD)", [issue([name], "Expected YYYY-MM-DD")]
        ) from None
    return raw


def json_response(body: bytes) -> Response:
    """Bytes already serialised as JSON."""
    return Response(body, media_type="application/json")


async def list_response(
    request: Request,
    db: Reader,
    model: Any,
    statement: Select[Any],
    view: RecordView,
) -> Response:
    """Page a filtered, scoped statement and wrap it in Propexo's envelope."""
    columns = orderable_columns(model)
    query = parse_list_query(request, set(columns))
    counter = (request.app.state.count_cache, request.state.table_versions)
    rows, meta = await run_list(db, statement, query, columns, counter)
    return json_response(envelope(meta, await view.documents(db, model, rows)))


async def by_id_response(
    request: Request,
    db: Reader,
    model: Any,
    principal: Principal,
    record_id: str,
    view: RecordView,
    label: str,
) -> Response:
    """One record in the list envelope; 404 when absent or not the caller's to see. Takes the
    paging parameters (as Propexo's by-ID routes do), no filter."""
    query = parse_list_query(request, set(orderable_columns(model)))
    statement = await scoped(request, db, model, principal, view.columns(model))
    row = (await db.execute(statement.where(model.id == record_id))).first()
    if row is None:
        raise not_found(f"{label} {record_id}")
    document = (await view.documents(db, model, [row]))[0]
    return json_response(
        b"".join(
            (b'{"meta":', orjson.dumps(query.meta(1, 1)), b',"results":', document.encode(), b"}")
        )
    )


Filters = Callable[[Request, Select[Any]], Select[Any]]
# The filters every synced model takes.
COMMON_FILTERS = (
    text("integration_id", "Only records of this integration."),
    choice("integration_vendor", PROPEXO_VENDORS, "Only records of integrations with this PMS."),
    text("property_id", "Only records of this property (ignored by properties themselves)."),
    text("x_id", "Only records with this id in the PMS."),
    text("x_property_id", "Only records of the property with this id in the PMS."),
    text("location_id", "Only records at this location (ResMan has none: nothing matches)."),
    moment("updated_at_gte", "Only records changed at or after this moment."),
    moment("updated_at_lte", "Only records changed at or before this moment."),
    moment("last_seen_gte", "Only records a sync saw at or after this moment."),
    moment("last_seen_lte", "Only records a sync saw at or before this moment."),
)


def add_record_routes(
    router: APIRouter,
    path: str,
    model: Any,
    view: RecordView | Render,
    label: str,
    id_name: str,
    schema: dict[str, Any],
    filters: Filters | None = None,
    filter_params: tuple[QueryParam, ...] = (),
) -> None:
    """The list and by-ID routes of one synced model (read scope), with Propexo's path names,
    documented with the record's `schema` and every query parameter they take.

    Every record model is served the same way; only its extra filters (taking the query
    parameters `filter_params`) and its presenter differ.
    """
    reader = require_scope("read")
    record_view = view if isinstance(view, RecordView) else RecordView(render=view)
    list_params = (*COMMON_FILTERS, *filter_params)
    component = label.title().replace(" ", "")
    paging_params = paging(orderable_columns(model))

    async def list_records(
        request: Request,
        principal: Principal = Depends(reader),
        db: Reader = Depends(read_connection),
    ) -> Response:
        statement = await scoped_list(db, request, model, principal, record_view.columns(model))
        if filters is not None:
            statement = filters(request, statement)
        return await list_response(request, db, model, statement, record_view)

    async def get_record(
        request: Request,
        record_id: str = Path(alias=id_name),
        principal: Principal = Depends(reader),
        db: Reader = Depends(read_connection),
    ) -> Response:
        return await by_id_response(request, db, model, principal, record_id, record_view, label)

    plural = f"{label.lower()[:-1]}ies" if label.endswith("y") else f"{label.lower()}s"

    components = envelope_schemas(component, schema)
    router.add_api_route(
        path,
        list_records,
        methods=["GET"],
        name=f"list_{model.__tablename__}",
        summary=f"Get all {plural}",
        responses=ok_with(f"{component}List"),
        openapi_extra={**documented((*paging_params, *list_params)), COMPONENTS_KEY: components},
    )
    router.add_api_route(
        f"{path}{{{id_name}}}",
        get_record,
        methods=["GET"],
        name=f"get_{label.lower().replace(' ', '_')}",
        summary=f"Get a {label.lower()} by ID",
        responses=ok_with(f"{component}ById"),
        openapi_extra=documented(paging_params),
    )
