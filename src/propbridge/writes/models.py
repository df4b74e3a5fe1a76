"""Tables of accepted writes: the request a client sent, and one item per transaction it posts.

Table definitions only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base, IdMixin, TimestampMixin


class WriteRequest(IdMixin, TimestampMixin, Base):
    """An accepted write (a charge, a payment or a batch) and the body the client sent.

    `dedupe_key` makes a repeated identical POST find the first request instead of posting twice.
    """

    __tablename__ = "write_requests"

    integration_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("integrations.id"), index=True
    )
    operation: Mapped[str] = mapped_column(String(64))
    request_body: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_hash: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(600), unique=True)
    job_id: Mapped[str] = mapped_column(String(36), unique=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The failed write this one re-sends (`POST /v1/admin/retry-write/{root_job_id}`), and the
    # first write of that chain of retries (each retry of a write is numbered in its dedupe key,
    # so concurrent retries of one failure make one write).
    retry_of: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    retry_root: Mapped[str | None] = mapped_column(String(36), default=None, index=True)


class WriteItem(IdMixin, Base):
    """One transaction of a write, with what the PMS needs and what became of it."""

    __tablename__ = "write_items"
    __table_args__ = (UniqueConstraint("write_request_id", "position"),)

    write_request_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("write_requests.id"), index=True
    )
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="PENDING", index=True)
    reference_number: Mapped[str] = mapped_column(String(200))
    batch_id: Mapped[str] = mapped_column(String(200))
    amount_in_cents: Mapped[int]
    x_property_id: Mapped[str] = mapped_column(String(128))
    x_lease_id: Mapped[str] = mapped_column(String(128))
    upstream: Mapped[dict[str, Any]] = mapped_column(JSON)
    record_id: Mapped[str | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(default=None)


class WriteReference(Base):
    """Which write first used a `(integration, batch_id, reference_number)`: whatever the route
    (single, batch, generic, charge or payment), a reference names one transaction, so a later
    write that reuses it is replayed or refused, never sent again. A retry re-sends its chain's
    references and claims none."""

    __tablename__ = "write_references"

    reference_key: Mapped[str] = mapped_column(String(600), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(36))
