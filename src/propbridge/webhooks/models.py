"""Tables for webhooks, the events they report, and each delivery with its attempts.

Table definitions only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base, IdMixin, TimestampMixin, utcnow


class Webhook(IdMixin, TimestampMixin, Base):
    """A client's endpoint, what it listens to, and its signing secret (encrypted, AD = id).

    `integration_ids` is the creating key's allow-list: a webhook hears only what its key may see.
    """

    __tablename__ = "webhooks"

    url: Mapped[str] = mapped_column(String(2000))
    # Empty: the headers are sealed with the secret (`sealing.py`); only webhooks saved before
    # that have them here until start-up seals them.
    headers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=False)
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    triggers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    integration_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookEvent(IdMixin, Base):
    """Something that happened, written in the transaction of the change it reports."""

    __tablename__ = "webhook_events"

    trigger: Mapped[str] = mapped_column(String(40))
    integration_id: Mapped[str | None] = mapped_column(String(36))
    model: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(IdMixin, Base):
    """One event for one webhook. Its id is the `webhook-id` header, the same on every retry."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index(None, "webhook_id", "state", "created_at", "id"),
    )

    webhook_id: Mapped[str] = mapped_column(String(36), ForeignKey("webhooks.id"))
    event_id: Mapped[str] = mapped_column(String(36), ForeignKey("webhook_events.id"))
    # pending → delivered; or dead (gave up after about a day) / cancelled (webhook disabled)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    """One try at a delivery: when, the answer's status, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_deliveries.id"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(default=None)
    # Only for attempts that got an HTTP answer (a failure's timing would tell ports apart).
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
