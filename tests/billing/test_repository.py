"""Link resolution of synced ledger transactions and fees, on a real database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.billing.repository import resolve_fee_links, resolve_ledger_links
from propbridge.connectors.base import RecordData
from tests import factories


def _record(model: str, x_property_id: str, **links: str) -> RecordData:
    return RecordData(model, "tx-1", x_property_id, {}, {}, dict(links))


async def test_a_transaction_links_to_its_lease_resident_and_code(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration)
    lease = await factories.lease(session, at, x_unit_id="u-9")
    resident = await factories.resident(session, lease)
    code = await factories.charge_code(session, at)
    found = _record(
        "resident_charges", at.x_id, lease=lease.x_id, resident=resident.x_id, charge_code=code.x_id
    )
    unknown = _record("resident_charges", at.x_id, lease="nope", charge_code="nope")
    await resolve_ledger_links(session, integration.id, [found, unknown])
    assert found.fields == {
        "lease_id": lease.id,
        "x_unit_id": "u-9",
        "unit_id": None,
        "resident_id": resident.id,
        "charge_code_id": code.id,
    }
    assert set(unknown.fields.values()) == {None}


async def test_links_stay_within_the_integration_and_property(session: AsyncSession) -> None:
    ours, theirs = await factories.integration(session), await factories.integration(session)
    at = await factories.property_(session, ours)
    elsewhere = await factories.property_(session, theirs, x_id=at.x_id)
    code = await factories.charge_code(session, elsewhere)
    record = _record("resident_charges", at.x_id, charge_code=code.x_id)
    await resolve_ledger_links(session, ours.id, [record])
    assert record.fields["charge_code_id"] is None


async def test_a_fee_finds_its_code_by_abbreviation(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration)
    code = await factories.charge_code(session, at, code="PET", name="Pet rent")
    fee = RecordData("fees", "f-1", at.x_id, {}, {}, {"charge_code_code": "PET"})
    await resolve_fee_links(session, integration.id, [fee])
    assert fee.fields["charge_code_id"] == code.id
    assert fee.fields["x_charge_code_id"] == code.x_id
    assert fee.fields["charge_code_name"] == "Pet rent"
    assert fee.fields["floor_plan_id"] is None
