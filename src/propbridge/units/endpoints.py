"""`/v1/floor-plans/`, `/v1/units/` and their by-ID routes (read scope).

Thin: the routes come from `add_record_routes`; here are only each model's own filters.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Select

from propbridge.api.records import add_record_routes
from propbridge.units.models import FloorPlan, Unit
from propbridge.units.presenters import render_floor_plan, render_unit

router = APIRouter(prefix="/v1", tags=["units"])


def unit_filters(request: Request, statement: Select[Any]) -> Select[Any]:
    """`unit_number`."""
    number = request.query_params.get("unit_number")
    return statement.where(Unit.number == number) if number else statement


add_record_routes(
    router, "/floor-plans/", FloorPlan, render_floor_plan, "Floor plan", "floor_plan_id"
)
add_record_routes(
    router, "/units/", Unit, render_unit, "Unit", "id", unit_filters, ("unit_number",)
)
