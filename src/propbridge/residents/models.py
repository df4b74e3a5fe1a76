"""Tables for synced properties, leases, residents and the resident-to-lease links.

Table definitions only; the sync engine writes them and the read routes serve them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base
from propbridge.db.synced import PropertyScopedMixin, SyncedRecordMixin


class Property(SyncedRecordMixin, Base):
    """A ResMan property (one `propertyId`)."""

    __tablename__ = "properties"

    name: Mapped[str | None]
    code: Mapped[str | None]
    address_1: Mapped[str | None]
    address_2: Mapped[str | None]
    city: Mapped[str | None]
    state: Mapped[str | None]
    zip: Mapped[str | None]
    country: Mapped[str | None]
    is_active: Mapped[bool | None]
    manager_name: Mapped[str | None]
    manager_email: Mapped[str | None]
    manager_phone_1: Mapped[str | None]
    type_raw: Mapped[str | None]
    type_normalized: Mapped[str | None]
    number_of_units: Mapped[int | None]


class Lease(PropertyScopedMixin, SyncedRecordMixin, Base):
    """A lease; in ResMan its id is the MITS `CustomerID` that writes post to."""

    __tablename__ = "leases"

    x_unit_id: Mapped[str | None]
    unit_id: Mapped[str | None] = mapped_column(String(36), index=True)
    x_billing_account_id: Mapped[str | None]
    unit_number: Mapped[str | None]
    application_date: Mapped[str | None]
    signature_date: Mapped[str | None]
    start_date: Mapped[str | None]
    end_date: Mapped[str | None]
    scheduled_move_in_date: Mapped[str | None]
    realized_move_in_date: Mapped[str | None]
    scheduled_move_out_date: Mapped[str | None]
    realized_move_out_date: Mapped[str | None]
    rent_amount_in_cents: Mapped[int | None] = mapped_column(BigInteger)
    status_raw: Mapped[str | None]
    status_normalized: Mapped[str | None] = mapped_column(index=True)


class Resident(PropertyScopedMixin, SyncedRecordMixin, Base):
    """A person on one or more leases of a property."""

    __tablename__ = "residents"

    x_lease_id: Mapped[str | None]
    first_name: Mapped[str | None]
    middle_name: Mapped[str | None]
    last_name: Mapped[str | None]
    email_1: Mapped[str | None] = mapped_column(index=True)
    phone_1: Mapped[str | None] = mapped_column(index=True)
    phone_1_type: Mapped[str | None]


class ResidentLease(Base):
    """Which residents are on which lease, and in what role."""

    __tablename__ = "residents_to_leases"
    __table_args__ = (UniqueConstraint("resident_id", "lease_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(String(36), ForeignKey("residents.id"), index=True)
    lease_id: Mapped[str] = mapped_column(String(36), ForeignKey("leases.id"), index=True)
    x_resident_type: Mapped[str | None]
    resident_type_normalized: Mapped[str | None]
    move_in_date: Mapped[str | None]
    move_out_date: Mapped[str | None]
    notice_date: Mapped[str | None]
