"""Propexo's Property, Resident and Lease objects from our rows (every key, null when unknown).

The `*_meta_data` arrays come from the link table (read by the repository); writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from propbridge.db.engine import Executor
from propbridge.db.synced import Fields, core_fields, model_fields
from propbridge.residents import repository
from propbridge.residents.models import ResidentLease

PROPERTY_FIELDS = (
    "x_created_at",
    "x_building_id",
    "building_number",
    "city",
    "code",
    "country",
    "county",
    "is_active",
    "manager_email",
    "manager_name",
    "manager_phone_1",
    "manager_phone_1_type",
    "manager_phone_2",
    "manager_phone_2_type",
    "name",
    "notes",
    "number_of_units",
    "square_footage",
    "square_feet",
    "state",
    "street_address_1",
    "street_address_2",
    "address_1",
    "address_2",
    "type",
    "type_raw",
    "type_normalized",
    "website",
    "year_built",
    "zip",
    "long_description",
    "short_description",
)
RESIDENT_FIELDS = (
    "x_lease_id",
    "address_1_alternate",
    "address_1",
    "address_2_alternate",
    "address_2",
    "balance_in_cents",
    "city_alternate",
    "city",
    "country_alternate",
    "country",
    "date_of_birth",
    "email_1",
    "email_2",
    "first_name",
    "is_employee",
    "last_name",
    "late_balance_in_cents",
    "middle_name",
    "notes",
    "phone_1_type",
    "phone_1",
    "phone_2_type",
    "phone_2",
    "state_alternate",
    "state",
    "zip_alternate",
    "zip",
)
LEASE_FIELDS = (
    "x_resident_id",
    "x_unit_id",
    "application_date",
    "deposit_amount",
    "deposit_amount_in_cents",
    "deposit_date",
    "end_date",
    "realized_move_in_date",
    "realized_move_out_date",
    "rent_amount_in_cents",
    "rent_amount_market_in_cents",
    "rent_due_day",
    "rent_due_date",
    "scheduled_move_in_date",
    "scheduled_move_out_date",
    "signature_date",
    "start_date",
    "status",
    "status_normalized",
    "status_raw",
    "term",
    "type",
    "unit_number",
    "write_off_amount_in_cents",
    "write_off_amount_raw",
    "balance_amount_in_cents",
    "balance_amount_raw",
    "past_due_balance_in_cents",
    "past_due_balance_raw",
    "unit_id",
)

# Propexo's schema lists these as nullable but its enum has no null, so a null fails validation
# against its own OpenAPI file; ResMan never says what kind a phone is, so "OTHER" it is.
UNKNOWN_PHONE_TYPES = {
    "properties": {"manager_phone_1_type": "OTHER", "manager_phone_2_type": "OTHER"},
    "residents": {"phone_1_type": "OTHER", "phone_2_type": "OTHER"},
}


def render_property(values: Fields) -> dict[str, Any]:
    """A Property object."""
    return {
        **core_fields(values),
        **model_fields(
            values, PROPERTY_FIELDS, ("office_hours", "pet_types", "associated_owner_ids")
        ),
        "street_address_1": values.get("address_1"),
        "street_address_2": values.get("address_2"),
        "type": values.get("type_raw"),
        **UNKNOWN_PHONE_TYPES["properties"],
    }


def _meta(link: Any, key: str) -> dict[str, Any]:
    return {
        key: getattr(link, key),
        "x_resident_type": link.x_resident_type,
        "resident_type_normalized": link.resident_type_normalized,
        "move_in_date": link.move_in_date,
        "move_out_date": link.move_out_date,
        "notice_date": link.notice_date,
        "custom_data": None,
    }


async def present_residents(db: Executor, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Resident objects with `leases_meta_data`."""
    links = await repository.lease_links(db, ResidentLease.resident_id, [r.id for r in rows])
    return [
        {
            **core_fields(row._mapping),
            **model_fields(row._mapping, RESIDENT_FIELDS, ("pets", "vehicles")),
            **UNKNOWN_PHONE_TYPES["residents"],
            "leases_meta_data": [_meta(link, "lease_id") for link in links[row.id]],
        }
        for row in rows
    ]


async def present_leases(db: Executor, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Lease objects with `residents_meta_data`."""
    links = await repository.lease_links(db, ResidentLease.lease_id, [r.id for r in rows])
    out = []
    for row in rows:
        values = {
            **core_fields(row._mapping),
            **model_fields(row._mapping, LEASE_FIELDS, ("services",)),
            "residents_meta_data": [_meta(link, "resident_id") for link in links[row.id]],
        }
        values["status"] = row.status_raw
        out.append(values)
    return out
