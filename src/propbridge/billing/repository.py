"""Queries of the billing records beyond the shared record reads (`api/records.py`): the links
a page of synced ledger transactions and fees resolves before it is written.

Never commits: the sync's page transaction does.
"""

from __future__ import annotations

from propbridge.billing.models import ChargeCode
from propbridge.connectors.base import RecordData
from propbridge.db.engine import Executor
from propbridge.residents.models import Lease, Resident
from propbridge.sync.repository import linked, rows_by_pms_id
from propbridge.units.models import FloorPlan


async def resolve_ledger_links(db: Executor, integration_id: str, batch: list[RecordData]) -> None:
    """A ledger transaction's lease, unit, resident and charge code, by their PMS ids."""
    properties = [r.x_property_id for r in batch]
    leases = await rows_by_pms_id(
        db, integration_id, properties, Lease.x_id, Lease.id, Lease.x_unit_id, Lease.unit_id
    )
    residents = await rows_by_pms_id(db, integration_id, properties, Resident.x_id, Resident.id)
    codes = await rows_by_pms_id(db, integration_id, properties, ChargeCode.x_id, ChargeCode.id)
    for record in batch:
        lease = record.links.get("lease")
        record.fields["lease_id"] = linked(leases, record, lease)
        record.fields["x_unit_id"] = linked(leases, record, lease, 1)
        record.fields["unit_id"] = linked(leases, record, lease, 2)
        record.fields["resident_id"] = linked(residents, record, record.links.get("resident"))
        record.fields["charge_code_id"] = linked(codes, record, record.links.get("charge_code"))


async def resolve_fee_links(db: Executor, integration_id: str, batch: list[RecordData]) -> None:
    """A fee names its charge code by abbreviation and its floor plan by code."""
    properties = [r.x_property_id for r in batch]
    codes = await rows_by_pms_id(
        db,
        integration_id,
        properties,
        ChargeCode.code,
        ChargeCode.id,
        ChargeCode.x_id,
        ChargeCode.name,
    )
    plans = await rows_by_pms_id(db, integration_id, properties, FloorPlan.x_id, FloorPlan.id)
    for record in batch:
        code = record.links.get("charge_code_code")
        record.fields["charge_code_id"] = linked(codes, record, code)
        record.fields["x_charge_code_id"] = linked(codes, record, code, 1)
        record.fields["charge_code_name"] = linked(codes, record, code, 2)
        record.fields["floor_plan_id"] = linked(plans, record, record.fields.get("x_floor_plan_id"))
