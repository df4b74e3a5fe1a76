"""The `sync_runs` table: one row per sync, with per-model counts.

Table definition only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base, IdMixin, utcnow


class SyncRun(IdMixin, Base):
    """A sync of one integration: when it ran, what it saw per model, and how it ended."""

    __tablename__ = "sync_runs"

    integration_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("integrations.id"), index=True
    )
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    state: Mapped[str] = mapped_column(String(16), default="running")
    models: Mapped[list[str]] = mapped_column(JSON)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class SyncCheckpoint(Base):
    """Where the next incremental read of one feed starts (minus the lookback window)."""

    __tablename__ = "sync_checkpoints"

    integration_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("integrations.id"), primary_key=True
    )
    feed: Mapped[str] = mapped_column(String(64), primary_key=True)
    fetched_from: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
