"""Tables for charge codes and for write requests with their per-transaction items.

Table definitions only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base, IdMixin, TimestampMixin
from propbridge.db.synced import PropertyScopedMixin, SyncedRecordMixin


class ChargeCode(PropertyScopedMixin, SyncedRecordMixin, Base):
    """A ResMan transaction category, copied once per property; `category_type` is ResMan's
    (Charge, Credit, Payment, Deposit): only a Charge category can be a resident charge's."""

    __tablename__ = "charge_codes"

    code: Mapped[str | None]
    category_type: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str | None]
    description: Mapped[str | None]
    debit_gl_account: Mapped[str | None]
    credit_gl_account: Mapped[str | None]


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


class LedgerTransactionMixin:
    """Columns shared by resident charges and payments (both are ledger transactions)."""

    x_lease_id: Mapped[str | None] = mapped_column(String(128))
    x_resident_id: Mapped[str | None] = mapped_column(String(128))
    x_unit_id: Mapped[str | None] = mapped_column(String(128))
    unit_id: Mapped[str | None] = mapped_column(String(36))
    x_charge_code_id: Mapped[str | None] = mapped_column(String(128))
    x_billing_account_id: Mapped[str | None] = mapped_column(String(128))
    amount_in_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_raw: Mapped[str | None]
    name: Mapped[str | None]
    description: Mapped[str | None]
    reference_number: Mapped[str | None]
    transaction_date: Mapped[str | None]
    post_month: Mapped[str | None]
    transaction_type: Mapped[str | None] = mapped_column(String(32))
    # When ResMan reversed it (a bounced payment): it stays, but is no longer live; lists leave
    # it out unless asked (ours).
    reversed_date: Mapped[str | None] = mapped_column(String(10))
    # Lists walk an integration's rows in creation order and leave reversed ones out: the index
    # gives the order, and carries reversed_date last so the filter needs no table read
    # (before created_at, PostgreSQL could not order by it: IS NULL is not an equality there).
    extra_indexes: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("integration_id", "created_at", "id", "reversed_date"),
        ("integration_id", "transaction_date"),
    )

    # Links without foreign keys: only the sync writes them, from rows it has just read, and
    # synced records are never deleted; the constraint checks cost as much as the indexes do
    # on a first sync's hundreds of thousands of rows.
    lease_id: Mapped[str | None] = mapped_column(String(36), index=True)
    resident_id: Mapped[str | None] = mapped_column(String(36), index=True)
    charge_code_id: Mapped[str | None] = mapped_column(String(36))


class ResidentCharge(LedgerTransactionMixin, PropertyScopedMixin, SyncedRecordMixin, Base):
    """A charge on a resident's ledger; credits are stored as negative charges."""

    __tablename__ = "resident_charges"


class ResidentPayment(LedgerTransactionMixin, PropertyScopedMixin, SyncedRecordMixin, Base):
    """A payment on a resident's ledger."""

    __tablename__ = "resident_payments"
    payment_method_raw: Mapped[str | None]
    payment_method_normalized: Mapped[str | None]


class Fee(PropertyScopedMixin, SyncedRecordMixin, Base):
    """An entry of a property's fee schedule (ResMan's marketing data)."""

    __tablename__ = "fees"

    charge_code_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("charge_codes.id"), index=True
    )
    x_charge_code_id: Mapped[str | None] = mapped_column(String(128))
    charge_code_code: Mapped[str | None] = mapped_column(String(32))
    charge_code_name: Mapped[str | None]
    x_floor_plan_id: Mapped[str | None] = mapped_column(String(128), index=True)
    floor_plan_id: Mapped[str | None] = mapped_column(String(36), index=True)
    x_unit_id: Mapped[str | None] = mapped_column(String(128))
    amount_in_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_raw: Mapped[str | None]
    name: Mapped[str | None]
    description: Mapped[str | None]
    frequency: Mapped[str | None]
