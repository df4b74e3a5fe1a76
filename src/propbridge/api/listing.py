"""Propexo's list conventions: `offset`, `limit`, `order-by`, and the `meta` envelope.

Parses and applies them to a SELECT; knows nothing of any particular model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from propbridge.api.errors import bad_request, issue
from propbridge.api.parameters import MAX_LIMIT, MAX_OFFSET, MAX_ORDER_BY_TERMS
from propbridge.db.engine import count_rows

# From this offset on, pages are read ids first (see `run_list`).
DEFERRED_JOIN_OFFSET = 1000


@dataclass(frozen=True)
class ListQuery:
    """Paging and ordering asked for by the client."""

    offset: int
    limit: int
    order_by: list[tuple[str, str]]

    def meta(self, total: int, returned: int) -> dict[str, Any]:
        """The `meta` object of a list response."""
        return {
            "offset": self.offset,
            "limit": self.limit,
            "orderBy": [{"field": f, "direction": d} for f, d in self.order_by],
            "hasMore": self.offset + returned < total,
            "total": total,
        }


INTEGER = re.compile(r"-?[0-9]{1,19}")


def int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    """An integer query parameter within bounds; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only: Python's int() would also take "1_0", " 1", "+1" and other scripts' digits.
    if not INTEGER.fullmatch(raw):
        raise bad_request(f"{name} must be an integer", [issue([name], "Expected an integer")])
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(f"{name} must be {bound}", [issue([name], f"Must be {bound}")])
    return value


def refuse_unknown_params(request: Request, known: Iterable[str]) -> None:
    """400 naming each query parameter a route does not take (`known` are those it declares:
    see `dependencies.refuse_undeclared_query`, which applies this to every route): a filter
    silently ignored would return records the client did not ask for."""
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        raise bad_request(
            f"Unknown query parameter(s): {', '.join(unknown)}",
            [issue([name], "Not a parameter of this route") for name in unknown],
        )


def parse_list_query(
    request: Request, orderable: Set[str], default: str = "created_at:desc"
) -> ListQuery:
    """Read `offset`, `limit` and `order-by`; 400 for anything malformed or unknown (query
    parameters a route does not declare are refused before, see `refuse_unknown_params`)."""
    offset = int_param(request, "offset", 0, 0, MAX_OFFSET)
    limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
    terms = (request.query_params.get("order-by") or default).split(",")
    if len(terms) > MAX_ORDER_BY_TERMS:
        message = f"order-by takes at most {MAX_ORDER_BY_TERMS} fields"
        raise bad_request(message, [issue(["order-by"], message)])
    order: list[tuple[str, str]] = []
    for part in terms:
        field, _, direction = part.strip().partition(":")
        direction = (direction or "asc").lower()
        if field not in orderable:
            raise bad_request(
                f"Cannot order by {field!r}", [issue(["order-by"], f"Unknown field {field!r}")]
            )
        if direction not in ("asc", "desc"):
            raise bad_request(
                f"Unknown direction {direction!r}",
                [issue(["order-by"], "Direction must be asc or desc")],
            )
        order.append((field, direction))
    return ListQuery(offset, limit, order)


def parse_timestamp(request: Request, name: str) -> datetime | None:
    """An ISO-8601 query parameter (a bare date means its midnight UTC); 400 when malformed."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise bad_request(
            f"{name} must be an ISO-8601 date or date-time", [issue([name], "Invalid date")]
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise bad_request(f"{name} is out of range", [issue([name], "Date out of range")]) from None


async def run_list(
    db: AsyncSession | AsyncConnection,
    statement: Select[Any],
    query: ListQuery,
    columns: dict[str, InstrumentedAttribute[Any]],
) -> tuple[list[Any], dict[str, Any]]:
    """Count, order, page and run a SELECT of one entity; returns rows and `meta`."""
    total = await count_rows(db, statement)
    order = [
        columns[field].desc() if direction == "desc" else columns[field].asc()
        for field, direction in query.order_by
    ]
    id_column = columns["id"]
    order.append(id_column.desc())
    ordered = statement.order_by(*order).offset(query.offset).limit(query.limit)
    if query.offset >= DEFERRED_JOIN_OFFSET:
        # A deep page: skip the offset over the ids alone (an index-only walk where an index
        # covers the order), then read the full rows of just this page.
        page_ids = statement.with_only_columns(id_column).order_by(*order)
        page_ids = page_ids.offset(query.offset).limit(query.limit)
        ordered = statement.where(id_column.in_(page_ids.scalar_subquery())).order_by(*order)
    # On a Core connection: plain rows, no ORM result machinery.
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    rows = list((await connection.execute(ordered)).all())
    return rows, query.meta(total, len(rows))
