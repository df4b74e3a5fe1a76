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
from sqlalchemy import JSON, select

from propbridge.api.dependencies import DirectRoute, Reader, get_runtime, require_scope
from propbridge.api.documents import SERVED_DOCUMENT_SQL, envelope, serve_document
from propbridge.api.errors import bad_request, issue, not_found
from propbridge.api.listing import parse_list_query, parse_timestamp
from propbridge.api.openapi import COMPONENTS_KEY, envelope_schemas, ok_with
from propbridge.api.parameters import QueryParam, choice, documented, moment, paging, text
from propbridge.api.record_reads import RecordReads
from propbridge.auth.service import Principal
from propbridge.db.raw_reads import RecordQuery
from propbridge.db.synced import UNSERVED_COLUMNS, Render, render_document, served_columns

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


@dataclass(frozen=True)
class RecordView:
    """How a model's records are served: `render`ed from their own row (and then stored as
    documents at sync time), or `present`ed a page at a time (when other tables are needed)."""

    render: Render | None = None
    present: Presenter | None = None

    def columns(self, dialect: str) -> str:
        """What a read selects: each row's served text (`SERVED_DOCUMENT_SQL`), or only the ids
        of the rows to present."""
        if self.render is None:
            return "id"
        return f"id, {SERVED_DOCUMENT_SQL[dialect]}"

    async def documents(self, request: Request, model: Any, rows: Sequence[Any]) -> list[str]:
        """The serialised objects of a page of rows selected with `columns`."""
        if self.render is None:
            assert self.present is not None
            if not rows:
                return []
            async with get_runtime(request).database.read_connection() as db:
                full = await db.execute(
                    select(*served_columns(model)).where(model.id.in_([row[0] for row in rows]))
                )
                by_id = {row.id: row for row in full}
                presented = await self.present(db, [by_id[row[0]] for row in rows])
            return [orjson.dumps(obj).decode() for obj in presented]
        # Rows the database could not serve (written before documents existed, or stamped in
        # another text form) are rendered from their columns.
        missing = [row[0] for row in rows if row[1] is None]
        if not missing:
            return [row[1] for row in rows]
        async with get_runtime(request).database.read_connection() as db:
            full = await db.execute(select(*served_columns(model)).where(model.id.in_(missing)))
            stamps: dict[Any, str] = {}
            rendered = {
                row.id: serve_document(
                    render_document(self.render, row._mapping), row.last_seen, stamps
                )
                for row in full
            }
        return [row[1] or rendered[row[0]] for row in rows]


@functools.cache
def orderable_columns(model: Any) -> frozenset[str]:
    """Columns a client may order by: every stored public column but JSON ones."""
    hidden = UNSERVED_COLUMNS | {"custom_data"}
    return frozenset(
        column.key
        for column in model.__table__.columns
        # JSON values have no order (PostgreSQL cannot sort `json`).
        if column.key not in hidden and not isinstance(column.type, JSON)
    )


def common_filters(request: Request, query: RecordQuery) -> None:
    """The filters every synced model takes: vendor, property, x_id, timestamps (the
    integration is part of the scope, see `RecordReads`)."""
    params = request.query_params
    model = query.model
    vendor = vendor_param(request)
    if vendor is not None:
        query.equal(model.integration_vendor, vendor)
    if params.get("location_id"):
        # ResMan has no locations (`x_location_id` is always null): nothing is at one.
        query.nothing()
    if params.get("property_id") and "property_id" in model.__table__.columns:
        query.equal(model.property_id, params["property_id"])
    if params.get("x_id"):
        query.equal(model.x_id, params["x_id"])
    if params.get("x_property_id"):
        query.equal(model.x_property_id, params["x_property_id"])
    for name, column, op in (
        ("updated_at_gte", model.updated_at, "ge"),
        ("updated_at_lte", model.updated_at, "le"),
        ("last_seen_gte", model.last_seen, "ge"),
        ("last_seen_lte", model.last_seen, "le"),
    ):
        moment = parse_timestamp(request, name)
        if moment is not None:
            (query.at_least if op == "ge" else query.at_most)(column, moment)


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


def record_reads(request: Request) -> RecordReads:
    """The process's record reader (its caches are shared by every request)."""
    reads: RecordReads = request.app.state.record_reads
    return reads


async def list_response(
    request: Request, principal: Principal, query: RecordQuery, view: RecordView
) -> Response:
    """A page of the principal's records matching `query`, in Propexo's envelope."""
    listing = parse_list_query(request, orderable_columns(query.model))
    reads = record_reads(request)
    page = await reads.page(
        principal,
        query,
        request.query_params.get("integration_id") or None,
        view.columns(reads.raw.dialect),
        listing.order_by,
        listing.offset,
        listing.limit,
    )
    documents = await view.documents(request, query.model, page.rows)
    return json_response(envelope(listing.meta(page.total, len(page.rows)), documents))


async def by_id_response(
    request: Request,
    principal: Principal,
    model: Any,
    record_id: str,
    view: RecordView,
    label: str,
) -> Response:
    """One record in the list envelope; 404 when absent or not the caller's to see. Takes the
    paging parameters (as Propexo's by-ID routes do), no filter."""
    listing = parse_list_query(request, orderable_columns(model))
    reads = record_reads(request)
    row = await reads.one(principal, RecordQuery(model), view.columns(reads.raw.dialect), record_id)
    if row is None:
        raise not_found(f"{label} {record_id}")
    document = (await view.documents(request, model, [row]))[0]
    return json_response(
        b"".join(
            (b'{"meta":', orjson.dumps(listing.meta(1, 1)), b',"results":', document.encode(), b"}")
        )
    )


Filters = Callable[[Request, RecordQuery], None]
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

    async def list_records(request: Request, principal: Principal = Depends(reader)) -> Response:
        query = RecordQuery(model)
        common_filters(request, query)
        if filters is not None:
            filters(request, query)
        return await list_response(request, principal, query, record_view)

    async def get_record(
        request: Request,
        record_id: str = Path(alias=id_name),
        principal: Principal = Depends(reader),
    ) -> Response:
        return await by_id_response(request, principal, model, record_id, record_view, label)

    plural = f"{label.lower()[:-1]}ies" if label.endswith("y") else f"{label.lower()}s"

    components = envelope_schemas(component, schema)
    router.add_api_route(
        path,
        list_records,
        methods=["GET"],
        name=f"list_{model.__tablename__}",
        route_class_override=DirectRoute,
        summary=f"Get all {plural}",
        responses=ok_with(f"{component}List"),
        openapi_extra={**documented((*paging_params, *list_params)), COMPONENTS_KEY: components},
    )
    router.add_api_route(
        f"{path}{{{id_name}}}",
        get_record,
        methods=["GET"],
        name=f"get_{label.lower().replace(' ', '_')}",
        route_class_override=DirectRoute,
        summary=f"Get a {label.lower()} by ID",
        responses=ok_with(f"{component}ById"),
        openapi_extra=documented(paging_params),
    )
