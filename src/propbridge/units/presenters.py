"""Propexo's FloorPlan and Unit objects from our rows (every key present, null when unknown).

Presentation only, from a record's column values: no queries.
"""

from __future__ import annotations

from typing import Any

from propbridge.db.synced import Fields, core_fields, model_fields

FLOOR_PLAN_FIELDS = (
    "name",
    "marketing_name",
    "code",
    "description",
    "bedrooms",
    "bathrooms",
    "bathrooms_full",
    "bathrooms_half",
    "max_occupants",
    "rentable_square_feet",
    "gross_square_feet",
    "rent_minimum_in_cents",
    "rent_maximum_in_cents",
    "unit_count",
    "deposit_amount_in_cents",
    "deposit_amount_raw",
    "deposit_amount_min_in_cents",
    "deposit_amount_max_in_cents",
    "deposit_amount_min_raw",
    "deposit_amount_max_raw",
)
UNIT_FIELDS = (
    "x_floor_plan_id",
    "x_unit_type_id",
    "bathrooms",
    "bathrooms_full",
    "bathrooms_half",
    "bedrooms",
    "building_name",
    "building_number",
    "city",
    "country",
    "floor_plan_code",
    "floor_plan_name",
    "floor",
    "is_available",
    "is_furnished",
    "is_listed",
    "is_vacant",
    "number",
    "rent_amount_market_in_cents",
    "rent_amount_max_in_cents",
    "rent_amount_min_in_cents",
    "square_feet",
    "state",
    "street_address_1",
    "street_address_2",
    "zip",
    "pets_allowed",
    "dogs_allowed",
    "cats_allowed",
    "pet_policy",
    "floor_plan_id",
    "unit_type_id",
)


def render_floor_plan(values: Fields) -> dict[str, Any]:
    """A FloorPlan object; `name` falls back to the code, as Propexo requires a string."""
    fields = {**core_fields(values), **model_fields(values, FLOOR_PLAN_FIELDS)}
    fields["name"] = fields["name"] or values["x_id"]
    fields["image_urls"] = values.get("image_urls") or []
    return fields


def render_unit(values: Fields) -> dict[str, Any]:
    """A Unit object (`address_1` mirrors `street_address_1`, as in Propexo's model)."""
    fields = {**core_fields(values), **model_fields(values, UNIT_FIELDS)}
    fields["address_1"] = fields["street_address_1"]
    fields["address_2"] = fields["street_address_2"]
    return fields
