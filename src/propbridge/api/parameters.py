"""Query parameters as declared once: a route's parameters are both what `/openapi.json`
documents for it and what the route accepts (any other name is a 400, see `listing.py`).

The routes still read and check the values themselves (their 400s speak Propexo's envelope);
this module only says what each parameter is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# The OpenAPI key that marks what Propexo does not have (a parameter, a field, an operation).
EXTENSION = "x-propbridge-extension"
MAX_LIMIT = 250
# Deeper than any table here; an offset past it is a client's mistake (and would overflow).
MAX_OFFSET = 1_000_000_000
# More than any useful ordering (the widest model has fewer orderable fields than a page has
# rows); SQLite refuses an ORDER BY of a few thousand terms, and each term costs the planner.
MAX_ORDER_BY_TERMS = 16


@dataclass(frozen=True)
class QueryParam:
    """One query parameter: its name, JSON schema and meaning; `extension` when it is ours."""

    name: str
    schema: dict[str, Any]
    description: str
    extension: bool = False

    def openapi(self) -> dict[str, Any]:
        """The parameter object of an OpenAPI operation."""
        declared: dict[str, Any] = {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": self.schema,
            # `name=` with nothing after it is taken as not given.
            "allowEmptyValue": True,
        }
        if self.extension:
            declared[EXTENSION] = True
        return declared


def text(name: str, description: str, extension: bool = False) -> QueryParam:
    """A free-text value compared for equality."""
    return QueryParam(name, {"type": "string"}, description, extension)


def flag(name: str, description: str, extension: bool = False) -> QueryParam:
    """`true` or `false` (`1` and `0` are accepted too)."""
    return QueryParam(name, {"type": "boolean"}, description, extension)


def day(name: str, description: str, extension: bool = False) -> QueryParam:
    """A calendar date, `YYYY-MM-DD`."""
    return QueryParam(name, {"type": "string", "format": "date"}, description, extension)


def moment(name: str, description: str, extension: bool = False) -> QueryParam:
    """An ISO-8601 date-time (a bare date means its midnight UTC)."""
    schema = {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]
    }
    return QueryParam(name, schema, description, extension)


def choice(
    name: str, values: Sequence[str], description: str, extension: bool = False
) -> QueryParam:
    """One of a fixed set of values."""
    return QueryParam(name, {"type": "string", "enum": list(values)}, description, extension)


def order_by_pattern(orderable: Iterable[str]) -> str:
    """The regular expression of an `order-by` value over these fields."""
    one = f"({'|'.join(sorted(orderable))})(:(asc|desc))?"
    return f"^{one}(,{one}){{0,{MAX_ORDER_BY_TERMS - 1}}}$"


def paging(
    orderable: Iterable[str],
    default_order: str = "created_at:desc",
    max_limit: int = MAX_LIMIT,
) -> tuple[QueryParam, ...]:
    """Propexo's `order-by`, `offset` and `limit` over a route's orderable fields."""
    fields = sorted(orderable)
    return (
        QueryParam(
            "order-by",
            {
                "type": "string",
                "pattern": order_by_pattern(fields),
                "default": default_order,
                "examples": [default_order],
            },
            "Fields to order by, comma-separated, each optionally followed by `:asc` (the "
            f"default) or `:desc`; at most {MAX_ORDER_BY_TERMS}. Fields: {', '.join(fields)}.",
        ),
        QueryParam(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            "How many records to skip.",
        ),
        QueryParam(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": max_limit, "default": min(100, max_limit)},
            f"How many records to return, 1 to {max_limit}.",
        ),
    )


def documented(params: Iterable[QueryParam]) -> dict[str, Any]:
    """A route's `openapi_extra` declaring these parameters."""
    return {"parameters": [param.openapi() for param in params]}


def names(params: Iterable[QueryParam]) -> frozenset[str]:
    """The names of some parameters."""
    return frozenset(param.name for param in params)
