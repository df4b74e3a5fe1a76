"""Serving synced records: the caller's scope, Propexo's core fields, filters and list envelopes.

One scoped statement builder for every read, so no query can forget whose records it may show.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from propbridge.api.dependencies import read_session, require_scope
from propbridge.api.errors import bad_request, issue, not_found
from propbridge.api.listing import parse_list_query, parse_timestamp, run_list
from propbridge.auth.service import Principal
from propbridge.db.base import isoformat_z
from propbridge.integrations.models import Integration

VENDORS = (
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

Presenter = Callable[[AsyncSession, Sequence[Any]], Awaitable[list[dict[str, Any]]]]


# Kept in the table but never served: reading them would cost JSON decoding on every row.
UNSERVED_COLUMNS = frozenset({"raw", "content_hash"})


def served_columns(model: Any) -> list[Any]:
    """The columns a read endpoint selects (rows come back as plain Row objects, not ORM ones)."""
    return [column for column in model.__table__.columns if column.key not in UNSERVED_COLUMNS]


async def visible_integrations(session: AsyncSession, principal: Principal) -> list[str]:
    """Live integrations the principal may see."""
    statement = select(Integration.id).where(Integration.deleted_at.is_(None))
    if principal.integration_ids is not None:
        statement = statement.where(Integration.id.in_(principal.integration_ids))
    return list((await session.execute(statement)).scalars())


async def scoped(
    session: AsyncSession, model: Any, principal: Principal, wanted: str | None = None
) -> Select[Any]:
    """SELECT of a model limited to the integrations the principal may see (and, if given,
    to the one integration asked for).

    The ids are resolved first and written into the query as plain values, so that both engines
    can walk the `(integration_id, ...)` indexes instead of joining a subquery.
    """
    ids = await visible_integrations(session, principal)
    if wanted is not None:
        ids = [wanted] if wanted in ids else []
    condition = model.integration_id == ids[0] if len(ids) == 1 else model.integration_id.in_(ids)
    return select(*served_columns(model)).where(condition)


def core_fields(row: Any) -> dict[str, Any]:
    """The fields every synced record carries (`row` is a Row of `served_columns`)."""
    return {
        "id": row.id,
        "created_at": isoformat_z(row.created_at),
        "updated_at": isoformat_z(row.updated_at),
        "last_seen": isoformat_z(row.last_seen),
        "x_id": row.x_id,
        "x_property_id": row.x_property_id,
        "x_location_id": None,
        "integration_id": row.integration_id,
        "integration_vendor": row.integration_vendor,
        "property_id": row.property_id if "property_id" in row._fields else row.id,
        "custom_data": row.custom_data,
    }


def model_fields(row: Any, names: Sequence[str], lists: Sequence[str] = ()) -> dict[str, Any]:
    """Every key of a Propexo model: the stored value, or null (`[]` for lists) when unknown.

    Reads through the row's mapping: a missing attribute on a SQLAlchemy Row raises an
    exception whose construction costs more than the whole row.
    """
    mapping = dict(row._mapping)
    values: dict[str, Any] = {name: mapping.get(name) for name in names}
    values.update({name: [] for name in lists})
    return values


def orderable_columns(model: Any) -> dict[str, InstrumentedAttribute[Any]]:
    """Columns a client may order by: every stored public column."""
    hidden = {"raw", "content_hash", "custom_data"}
    return {
        column.key: getattr(model, column.key)
        for column in model.__table__.columns
        if column.key not in hidden
    }


async def scoped_list(
    session: AsyncSession, request: Request, model: Any, principal: Principal
) -> Select[Any]:
    """The principal's records of a model, with the filters every synced model takes:
    integration, vendor, property, x_id, timestamps."""
    params = request.query_params
    statement = await scoped(session, model, principal, params.get("integration_id") or None)
    vendor = params.get("integration_vendor")
    if vendor:
        if vendor not in VENDORS:
            raise bad_request(
                "Unknown integration_vendor",
                [issue(["integration_vendor"], f"Expected one of {', '.join(VENDORS)}")],
            )
        statement = statement.where(model.integration_vendor == vendor)
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


async def list_response(
    request: Request, session: AsyncSession, model: Any, statement: Select[Any], present: Presenter
) -> dict[str, Any]:
    """Page a filtered, scoped statement and wrap it in Propexo's envelope."""
    columns = orderable_columns(model)
    query = parse_list_query(request, set(columns))
    counter = (request.app.state.count_cache, (model.__tablename__, "integrations"))
    rows, meta = await run_list(session, statement, query, columns, counter)
    return {"meta": meta, "results": await present(session, rows)}


async def by_id_response(
    request: Request,
    session: AsyncSession,
    model: Any,
    principal: Principal,
    record_id: str,
    present: Presenter,
    label: str,
) -> dict[str, Any]:
    """One record in the list envelope; 404 when absent or not the caller's to see."""
    query = parse_list_query(request, set(orderable_columns(model)))
    statement = await scoped(session, model, principal)
    row = (await session.execute(statement.where(model.id == record_id))).first()
    if row is None:
        raise not_found(f"{label} {record_id}")
    return {"meta": query.meta(1, 1), "results": (await present(session, [row]))[0]}


Filters = Callable[[Request, Select[Any]], Select[Any]]


def add_record_routes(
    router: APIRouter,
    path: str,
    model: Any,
    present: Presenter,
    label: str,
    id_name: str,
    filters: Filters | None = None,
) -> None:
    """The list and by-ID routes of one synced model (read scope), with Propexo's path names.

    Every record model is served the same way; only its extra filters and its presenter differ.
    """
    reader = require_scope("read")

    async def list_records(
        request: Request,
        principal: Principal = Depends(reader),
        session: AsyncSession = Depends(read_session),
    ) -> dict[str, Any]:
        statement = await scoped_list(session, request, model, principal)
        if filters is not None:
            statement = filters(request, statement)
        return await list_response(request, session, model, statement, present)

    async def get_record(
        request: Request,
        record_id: str = Path(alias=id_name),
        principal: Principal = Depends(reader),
        session: AsyncSession = Depends(read_session),
    ) -> dict[str, Any]:
        return await by_id_response(request, session, model, principal, record_id, present, label)

    plural = f"{label.lower()}s"
    router.add_api_route(
        path,
        list_records,
        methods=["GET"],
        name=f"list_{model.__tablename__}",
        summary=f"Get all {plural}",
    )
    router.add_api_route(
        f"{path}{{{id_name}}}",
        get_record,
        methods=["GET"],
        name=f"get_{model.__tablename__}",
        summary=f"Get a {label.lower()} by ID",
    )
