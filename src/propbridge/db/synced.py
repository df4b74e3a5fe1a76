"""The columns every record copied from a PMS carries (Propexo's core fields).

A mixin only: each synced model declares its own table and its own extra columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from propbridge.db.base import IdMixin, TimestampMixin


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
    # `api/documents.py`); null for models presented from several tables.
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
