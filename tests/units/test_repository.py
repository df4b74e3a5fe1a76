"""A synced unit takes its floor plan's id, name and rooms (ResMan gives rooms per unit type)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.connectors.base import RecordData
from propbridge.units.repository import resolve_unit_links
from tests import factories


async def test_a_unit_takes_its_floor_plans_rooms(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration)
    plan = await factories.floor_plan(session, at, x_id="3B2B", bedrooms=3, bathrooms="2.5")
    unit = RecordData("units", "u-1", at.x_id, {}, {}, {"floor_plan": "3B2B"})
    orphan = RecordData("units", "u-2", at.x_id, {}, {}, {"floor_plan": "STUDIO"})
    await resolve_unit_links(session, integration.id, [unit, orphan])
    assert unit.fields == {
        "floor_plan_id": plan.id,
        "floor_plan_name": "Two bedrooms",
        "bedrooms": "3",
        "bathrooms": "2.5",
    }
    assert set(orphan.fields.values()) == {None}
