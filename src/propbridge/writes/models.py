"""Tables of accepted writes: the request a client sent, and one item per transaction it posts.

Table definitions only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
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
    # The PMS account its integration acted on when it was accepted, where its references are
    # claimed: it is sent only while the integration still acts on that account.
    account_key: Mapped[str] = mapped_column(String(64))
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
    amount_in_cents: Mapped[int] = mapped_column(BigInteger)
    x_property_id: Mapped[str] = mapped_column(String(128))
    x_lease_id: Mapped[str] = mapped_column(String(128))
    upstream: Mapped[dict[str, Any]] = mapped_column(JSON)
    record_id: Mapped[str | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(default=None)
    # When the PMS took it into its approval queue, when a sync found it in the ledger, and
    # when syncs had not found it for too long after it was taken (its status says which holds).
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    posted_at: Mapped[datetime | None] = mapped_column(default=None)
    unconfirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set by the upgrade that claimed references per PMS account, when another write of the
    # account already held this item's reference: such an item is neither sent nor reconciled.
    held_by_job_id: Mapped[str | None] = mapped_column(String(36), default=None)


class WriteReference(Base):
    """Which write first used a reference in a PMS account (`rules.normalized_reference`):
    the PMS's ledger carries the reference and nothing else of ours, so it names one
    transaction of the account whatever the route, batch id or integration that sent it. A later
    write that reuses it is replayed or refused, never sent again; a retry re-sends its chain's
    references and claims none."""

    __tablename__ = "write_references"

    # The reference leads the key: the recorder looks claims up by reference (in one statement
    # for a whole group of writes, before it knows their accounts), reconciliation by both.
    reference: Mapped[str] = mapped_column(String, primary_key=True)
    account_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(36))
