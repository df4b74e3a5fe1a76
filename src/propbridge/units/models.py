"""Tables for synced floor plans and units.

Table definitions only; the sync engine writes them and the read routes serve them.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base
from propbridge.db.synced import PropertyScopedMixin, SyncedRecordMixin


class FloorPlan(PropertyScopedMixin, SyncedRecordMixin, Base):
    """A floor plan of a property (ResMan's marketing `Floorplan`); `x_id` is its code."""

    __tablename__ = "floor_plans"

    name: Mapped[str | None]
    code: Mapped[str | None] = mapped_column(String(64))
    bedrooms: Mapped[int | None]
    bathrooms: Mapped[str | None] = mapped_column(String(16))
    rentable_square_feet: Mapped[int | None]
    rent_minimum_in_cents: Mapped[int | None] = mapped_column(BigInteger)
    rent_maximum_in_cents: Mapped[int | None] = mapped_column(BigInteger)
    unit_count: Mapped[int | None]
    image_urls: Mapped[list[str] | None] = mapped_column(JSON, default=None)


class Unit(PropertyScopedMixin, SyncedRecordMixin, Base):
    """A rentable unit of a property (ResMan's v2 `/Units`)."""

    __tablename__ = "units"

    number: Mapped[str | None] = mapped_column(String(64))
    x_floor_plan_id: Mapped[str | None] = mapped_column(String(128))
    x_unit_type_id: Mapped[str | None] = mapped_column(String(128))
    floor_plan_id: Mapped[str | None] = mapped_column(String(36), index=True)
    floor_plan_code: Mapped[str | None] = mapped_column(String(64))
    floor_plan_name: Mapped[str | None]
    bedrooms: Mapped[str | None] = mapped_column(String(16))
    bathrooms: Mapped[str | None] = mapped_column(String(16))
    building_name: Mapped[str | None]
    floor: Mapped[str | None] = mapped_column(String(32))
    street_address_1: Mapped[str | None]
    city: Mapped[str | None]
    state: Mapped[str | None]
    zip: Mapped[str | None]
    square_feet: Mapped[int | None]
    rent_amount_market_in_cents: Mapped[int | None] = mapped_column(BigInteger)
    is_listed: Mapped[bool | None]
    extra_indexes: ClassVar[tuple[tuple[str, ...], ...]] = (("property_id", "number"),)
