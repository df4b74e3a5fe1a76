"""`/v1/floor-plans/`, `/v1/units/` and their by-ID routes (read scope).

Thin: the routes come from `add_record_routes`; here are only each model's own filters.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from propbridge.api.parameters import text
from propbridge.api.record_schema import record_schema
from propbridge.api.records import add_record_routes
from propbridge.db.raw_reads import RecordQuery
from propbridge.units.models import FloorPlan, Unit
from propbridge.units.presenters import (
    FLOOR_PLAN_FIELDS,
    UNIT_FIELDS,
    render_floor_plan,
    render_unit,
)

router = APIRouter(prefix="/v1", tags=["units"])


def unit_filters(request: Request, query: RecordQuery) -> None:
    """`unit_number`."""
    number = request.query_params.get("unit_number")
    if number:
        query.equal(Unit.number, number)


add_record_routes(
    router,
    "/floor-plans/",
    FloorPlan,
    render_floor_plan,
    "Floor plan",
    "floor_plan_id",
    record_schema(
        FloorPlan,
        (*FLOOR_PLAN_FIELDS, "image_urls"),
        {
            "name": {"type": "string"},
            "image_urls": {"type": "array", "items": {"type": "string"}},
        },
    ),
)
add_record_routes(
    router,
    "/units/",
    Unit,
    render_unit,
    "Unit",
    "id",
    record_schema(
        Unit,
        (*UNIT_FIELDS, "address_1", "address_2"),
        {"address_1": {"type": ["string", "null"]}, "address_2": {"type": ["string", "null"]}},
        extensions=("x_location_id",),
    ),
    unit_filters,
    (text("unit_number", "Only the unit with this number."),),
)
