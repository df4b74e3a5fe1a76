"""Queries of the unit records beyond the shared record reads (`api/records.py`): the links a
page of synced units resolves before it is written.

Never commits: the sync's page transaction does.
"""

from __future__ import annotations

from propbridge.connectors.base import RecordData
from propbridge.db.engine import Executor
from propbridge.sync.repository import linked, rows_by_pms_id
from propbridge.units.models import FloorPlan


async def resolve_unit_links(db: Executor, integration_id: str, batch: list[RecordData]) -> None:
    """A unit's floor plan, by code; a unit has its floor plan's rooms (ResMan gives them per
    unit type, not per unit)."""
    plans = await rows_by_pms_id(
        db,
        integration_id,
        [r.x_property_id for r in batch],
        FloorPlan.x_id,
        FloorPlan.id,
        FloorPlan.name,
        FloorPlan.bedrooms,
        FloorPlan.bathrooms,
    )
    for record in batch:
        plan = record.links.get("floor_plan")
        record.fields["floor_plan_id"] = linked(plans, record, plan)
        record.fields["floor_plan_name"] = linked(plans, record, plan, 1)
        bedrooms = linked(plans, record, plan, 2)
        record.fields["bedrooms"] = None if bedrooms is None else str(bedrooms)
        record.fields["bathrooms"] = linked(plans, record, plan, 3)
