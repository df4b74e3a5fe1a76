"""The writes service on a real database: resolution of what a charge names, and retry."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.errors import ApiError
from propbridge.writes import service
from propbridge.writes.schemas import ResidentChargeCreate
from tests import factories


def _charge(
    integration_id: str, resident_id: str, code_id: str, **values: object
) -> ResidentChargeCreate:
    body = {
        "integration_id": integration_id,
        "resident_id": resident_id,
        "charge_code_id": code_id,
        "amount_in_cents": 12_500,
        "transaction_date": "2026-11-01T00:00:00Z",
        "description": "Late fee",
        "notes": "n",
        "batch_id": "b-1",
        "reference_number": "r-1",
        **values,
    }
    return ResidentChargeCreate.model_validate(body)


async def test_a_charge_resolves_to_its_lease_and_code(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration)
    lease = await factories.lease(session, at, unit_number="4B")
    resident = await factories.resident(session, lease)
    code = await factories.charge_code(session, at, code="LATE")
    body = _charge(integration.id, resident.id, code.id)
    pending = await service.resolve_resident_charge(session, factories.principal("write"), body)
    assert pending.operation == "resident_charge"
    [item] = pending.items
    assert item["x_lease_id"] == lease.x_id and item["x_property_id"] == at.x_id
    assert item["upstream"]["charge_code"] == "LATE" and item["upstream"]["unit_id"] == "4B"
    assert pending.dedupe_key == "\x1f".join((integration.id, "resident_charge", "b-1", "r-1"))


async def test_a_code_of_another_property_or_category_is_refused(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    here, there = (
        await factories.property_(session, integration),
        await factories.property_(session, integration),
    )
    resident = await factories.resident(session, await factories.lease(session, here))
    elsewhere = await factories.charge_code(session, there)
    payment_category = await factories.charge_code(session, here, category_type="Payment")
    for code, says in ((elsewhere, "different properties"), (payment_category, "Payment category")):
        with pytest.raises(ApiError) as refused:
            await service.resolve_resident_charge(
                session, factories.principal(), _charge(integration.id, resident.id, code.id)
            )
        assert refused.value.status == 400
        assert says in refused.value.details["issues"][0]["message"]  # type: ignore[index]


async def test_unknown_then_out_of_scope_integrations(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    with pytest.raises(ApiError) as unknown:
        await service.resolve_resident_charge(
            session, factories.principal(), _charge("nope", "r", "c")
        )
    assert unknown.value.status == 400
    outsider = factories.principal("write", integrations={"another"})
    with pytest.raises(ApiError) as forbidden:
        await service.resolve_resident_charge(session, outsider, _charge(integration.id, "r", "c"))
    assert forbidden.value.status == 403


async def test_generic_writes_name_unknown_fields_unless_dropped(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration)
    resident = await factories.resident(session, await factories.lease(session, at))
    code = await factories.charge_code(session, at)
    body = _charge(integration.id, resident.id, code.id).model_dump() | {"color": "red"}
    with pytest.raises(ApiError) as refused:
        await service.resolve_generic(
            session, factories.principal(), "resident_charge", body, ignore_unknown=False
        )
    assert refused.value.details["issues"][0]["path"] == ["color"]  # type: ignore[index]
    pending = await service.resolve_generic(
        session, factories.principal(), "resident_charge", body, ignore_unknown=True
    )
    assert "color" not in pending.body


async def test_unknown_jobs_are_404_with_each_routes_message(session: AsyncSession) -> None:
    """Write status and retry said it differently before the writes domain: still so."""
    with pytest.raises(ApiError) as status:
        await service.write_status(session, factories.principal(), "nope")
    with pytest.raises(ApiError) as retry:
        await service.write_to_retry(session, factories.principal(), "nope")
    assert (status.value.status, status.value.message) == (404, "Job nope was not found")
    assert (retry.value.status, retry.value.message) == (404, "Job nope not found")
