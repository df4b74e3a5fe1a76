"""The unit models the sync copies from the PMS (entries of the synced-model registry)."""

from __future__ import annotations

from propbridge.sync.registry import SyncedModel
from propbridge.units.models import FloorPlan, Unit
from propbridge.units.presenters import render_floor_plan, render_unit
from propbridge.units.repository import resolve_unit_links

FLOOR_PLANS = SyncedModel("floor_plans", FloorPlan, "floor_plans", render_floor_plan)
UNITS = SyncedModel("units", Unit, "units", render_unit, resolve_unit_links)
