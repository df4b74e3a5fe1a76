"""Tables of the synced Billing and Payments records: charge codes, ledger transactions, fees.

Table definitions only.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base
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
