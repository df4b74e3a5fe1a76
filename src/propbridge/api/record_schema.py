"""The JSON schema of a synced record as served, derived from what serves it: the keys its
presenter writes and the types of the columns they come from.

A key with no column behind it is always null (ResMan has no such data), unless the model
declares what it is (a list, or a value computed from other tables). Every key is required and
no other is allowed: the schema says exactly what a response holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer
from sqlalchemy.types import TypeEngine

from propbridge.api.parameters import EXTENSION

NULL: dict[str, Any] = {"type": "null"}
TIMESTAMP = {"type": "string", "format": "date-time"}
# Always `[]`: ResMan gives nothing to put in them.
EMPTY_LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}, "maxItems": 0}

# The core fields every synced record carries (see `db/synced.core_fields`).
CORE_FIELDS: dict[str, dict[str, Any]] = {
    "id": {"type": "string"},
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "last_seen": TIMESTAMP,
    "x_id": {"type": "string"},
    "x_property_id": {"type": "string"},
    "x_location_id": NULL,
    "integration_id": {"type": "string"},
    "integration_vendor": {"type": "string", "enum": ["RESMAN"]},
    "property_id": {"type": "string"},
    "custom_data": {"type": ["object", "null"]},
}


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A schema that also admits null."""
    kind = schema.get("type")
    if kind is None or kind == "null":
        return dict(schema)
    kinds = kind if isinstance(kind, list) else [kind]
    widened = {**schema, "type": [*kinds, "null"] if "null" not in kinds else kinds}
    if "enum" in widened and None not in widened["enum"]:
        widened["enum"] = [*widened["enum"], None]
    return widened


def column_schema(column_type: TypeEngine[Any]) -> dict[str, Any]:
    """The JSON type a column's values are served as (never null here; see `nullable`)."""
    if isinstance(column_type, Boolean):
        return {"type": "boolean"}
    if isinstance(column_type, (Integer, BigInteger)):
        return {"type": "integer"}
    if isinstance(column_type, DateTime):
        return TIMESTAMP
    if isinstance(column_type, JSON):
        return {}
    return {"type": "string"}


def record_schema(
    model: Any,
    fields: Sequence[str],
    declared: Mapping[str, dict[str, Any]] | None = None,
    extensions: Iterable[str] = (),
    description: str = "",
) -> dict[str, Any]:
    """The schema of one record: the core fields, then `fields`, typed by `declared` where
    given, else by their column (nullable), else null; `extensions` are marked as ours."""
    declared = declared or {}
    ours = frozenset(extensions)
    columns = {column.key: column for column in model.__table__.columns}
    properties: dict[str, Any] = {}
    for name in (*CORE_FIELDS, *fields):
        if name in declared:
            schema = dict(declared[name])
        elif name in CORE_FIELDS:
            schema = dict(CORE_FIELDS[name])
        elif name in columns:
            schema = nullable(column_schema(columns[name].type))
        else:
            schema = dict(NULL)
        if name in ours:
            schema[EXTENSION] = True
        properties[name] = schema
    unknown = ours - set(properties)
    if unknown:
        raise ValueError(f"extensions that are not fields: {sorted(unknown)}")
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema
