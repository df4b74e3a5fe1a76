"""What every record copied from a PMS carries: its columns (Propexo's core fields, as a mixin;
each synced model declares its own table and extra columns) and its stored document (the
record's Propexo object, rendered from its column values when the sync writes it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import orjson
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from propbridge.db.base import IdMixin, TimestampMixin, isoformat_z


class SyncedRecordMixin(IdMixin, TimestampMixin):
    """Core fields, the PMS's raw payload and a content hash for change detection.

    The natural key is `(integration_id, x_property_id, x_id)`: PMS ids are only unique
    within one customer's property, so the property is part of the key.
    """

    x_id: Mapped[str] = mapped_column(String(128))
    x_property_id: Mapped[str] = mapped_column(String(128))
    last_seen: Mapped[datetime | None]
    custom_data: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The record's Propexo object as served, rendered when the record is written (see
    # `render_document` below; served by `api/documents.py`); null for models presented from
    # several tables.
    document: Mapped[str | None] = mapped_column(Text, default=None)

    # No index of its own: the natural key's unique index starts with it.
    @declared_attr
    def integration_id(cls) -> Mapped[str]:
        return mapped_column(String(36), ForeignKey("integrations.id"))

    @declared_attr
    def integration_vendor(cls) -> Mapped[str]:
        return mapped_column(String(32))

    # Extra indexes of a table, as tuples of column names (the listing orders, the filters).
    extra_indexes: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            UniqueConstraint("integration_id", "x_property_id", "x_id"),
            Index(None, "created_at"),
            *(Index(None, *columns) for columns in cls.extra_indexes),
        )


class PropertyScopedMixin:
    """A record that belongs to one of our properties."""

    @declared_attr
    def property_id(cls) -> Mapped[str]:
        return mapped_column(String(36), ForeignKey("properties.id"), index=True)


Fields = Mapping[Any, Any]  # column name → value (a dict, or a Row's mapping)
# One record's Propexo object from its column values (models whose objects need no other table).
Render = Callable[[Fields], dict[str, Any]]
# Kept in the table but never served: reading them would cost JSON decoding on every row.
UNSERVED_COLUMNS = frozenset({"raw", "content_hash", "document"})


@functools.cache
def served_columns(model: Any) -> list[Any]:
    """The columns a read selects and an event shows (rows come back as plain Row objects)."""
    return [column for column in model.__table__.columns if column.key not in UNSERVED_COLUMNS]


def render_document(render: Render, values: Fields) -> str:
    """The stored text of one record: its Propexo object without `last_seen` (a sync stamps it
    on records that did not otherwise change; it is spliced in when the record is served)."""
    body = render(values)
    body.pop("last_seen", None)
    return orjson.dumps(body).decode()


def core_fields(values: Fields) -> dict[str, Any]:
    """The fields every synced record carries, from its column values."""
    return {
        "id": values["id"],
        "created_at": isoformat_z(values["created_at"]),
        "updated_at": isoformat_z(values["updated_at"]),
        "last_seen": isoformat_z(values.get("last_seen")),
        "x_id": values["x_id"],
        "x_property_id": values["x_property_id"],
        "x_location_id": None,
        "integration_id": values["integration_id"],
        "integration_vendor": values["integration_vendor"],
        "property_id": values.get("property_id", values["id"]),
        "custom_data": values.get("custom_data"),
    }


def model_fields(values: Fields, names: Sequence[str], lists: Sequence[str] = ()) -> dict[str, Any]:
    """Every key of a Propexo model: the stored value, or null (`[]` for lists) when unknown."""
    fields: dict[str, Any] = {name: values.get(name) for name in names}
    fields.update({name: [] for name in lists})
    return fields
