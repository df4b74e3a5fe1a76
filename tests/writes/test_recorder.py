"""The group commit on a real database: single charges and payments resolved together in the
transaction that records them, each answered on its own."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from propbridge.api.errors import ApiError
from propbridge.db.engine import Database
from propbridge.writes import repository, service
from propbridge.writes.recorder import Unresolved, WriteRecorder
from propbridge.writes.rules import AcceptedWrite
from propbridge.writes.schemas import (
    MAX_AMOUNT_IN_CENTS,
    ResidentChargeCreate,
    ResidentPaymentCreate,
)
from tests import factories


async def _records(database: Database, **integration_values: Any) -> dict[str, str]:
    """An integration with a resident on a lease and a charge code, committed."""
    async with database.write() as session:
        integration = await factories.integration(session, **integration_values)
        at = await factories.property_(session, integration)
        lease = await factories.lease(session, at, unit_number="7C")
        resident = await factories.resident(session, lease)
        code = await factories.charge_code(session, at, code="PETF")
        payment_code = await factories.charge_code(session, at, category_type="Payment")
        return {
            "integration_id": integration.id,
            "resident_id": resident.id,
            "charge_code_id": code.id,
            "payment_code_id": payment_code.id,
            "lease_x_id": lease.x_id,
            "account_key": integration.account_key,
        }


def _charge(records: dict[str, str], **values: Any) -> ResidentChargeCreate:
    body = {
        "integration_id": records["integration_id"],
        "resident_id": records["resident_id"],
        "charge_code_id": records["charge_code_id"],
        "batch_id": "b-1",
        "transaction_date": "2026-11-02T10:00:00Z",
        "description": "Pet fee",
        "notes": "n",
        "amount_in_cents": 7_500,
        "reference_number": f"R-{uuid.uuid4().hex[:10]}",
        **values,
    }
    return ResidentChargeCreate.model_validate(body)


async def _settle(recorder: WriteRecorder, entry: Unresolved) -> AcceptedWrite | ApiError:
    try:
        return await recorder.record(entry)
    except ApiError as refused:
        return refused


async def test_writes_arriving_together_are_each_answered_on_their_own(
    unit_database: Database,
) -> None:
    records = await _records(unit_database)
    writer = factories.principal("write")
    outsider = factories.principal("write", integrations={"another"})
    good = _charge(records)
    payment = ResidentPaymentCreate.model_validate(
        {
            **_charge(records).model_dump(exclude={"charge_code_id"}),
            "payment_type": "Check",
        }
    )
    charge, pay = service.RESIDENT_CHARGE, service.RESIDENT_PAYMENT
    entries = [
        Unresolved(charge, writer, good),
        Unresolved(charge, writer, _charge(records, resident_id="unknown")),
        Unresolved(charge, outsider, _charge(records)),
        Unresolved(charge, writer, _charge(records, charge_code_id=records["payment_code_id"])),
        Unresolved(charge, writer, good),  # the same write again in the same batch
        Unresolved(charge, writer, good.model_copy(update={"amount_in_cents": 1})),
        Unresolved(pay, writer, payment),
        Unresolved(charge, writer, _charge(records, integration_id="unknown")),
    ]
    recorder = WriteRecorder(unit_database)
    outcomes = await asyncio.gather(*(_settle(recorder, entry) for entry in entries))
    first, unknown, forbidden, wrong_code, again, conflict, paid, no_integration = outcomes
    assert isinstance(first, AcceptedWrite) and first.body == good.model_dump()
    assert isinstance(again, AcceptedWrite) and again.job_id == first.job_id
    assert isinstance(paid, AcceptedWrite) and paid.job_id != first.job_id
    for refused, status, path in (
        (unknown, 400, ["resident_id"]),
        (wrong_code, 400, ["charge_code_id"]),
        (no_integration, 400, ["integration_id"]),
    ):
        assert isinstance(refused, ApiError) and refused.status == status
        assert refused.details is not None and refused.details["issues"][0]["path"] == path
    assert isinstance(forbidden, ApiError) and forbidden.status == 403
    assert isinstance(conflict, ApiError) and conflict.code == "duplicate_reference"
    async with unit_database.read() as session:
        written = await repository.write_by_job(session, first.job_id)
        assert written is not None and written.job_state == "queued"
        [item] = await repository.items_of(session, written.request.id)
        assert item.upstream["charge_code"] == "PETF" and item.upstream["unit_id"] == "7C"
        assert item.x_lease_id == records["lease_x_id"]
        paying = await repository.write_by_job(session, paid.job_id)
        assert paying is not None
        [paid_item] = await repository.items_of(session, paying.request.id)
        assert paid_item.upstream["paid_by"] == "Ada Lovelace"


async def test_a_write_recorded_before_is_replayed_or_refused(unit_database: Database) -> None:
    records = await _records(unit_database)
    writer = factories.principal("write")
    body = _charge(records)
    recorder = WriteRecorder(unit_database)
    first = await recorder.record(Unresolved(service.RESIDENT_CHARGE, writer, body))
    again = await recorder.record(Unresolved(service.RESIDENT_CHARGE, writer, body))
    assert again == first
    other = body.model_copy(update={"notes": "another"})
    with pytest.raises(ApiError) as refused:
        await recorder.record(Unresolved(service.RESIDENT_CHARGE, writer, other))
    assert refused.value.status == 409 and refused.value.details is not None
    assert refused.value.details["job_id"] == first.job_id
    [clash] = refused.value.details["issues"]
    assert clash["path"] == ["reference_number"] and clash["job_id"] == first.job_id


async def test_a_key_taken_by_another_process_in_between_is_settled_one_by_one(
    unit_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's read saw no first write, yet the unique key stops the insert (another API
    process recorded it in between): each write is then settled alone, reading again, and
    replayed or refused."""
    records = await _records(unit_database)
    writer = factories.principal("write")
    body = _charge(records)
    recorder = WriteRecorder(unit_database)
    first = await recorder.record(Unresolved(service.RESIDENT_CHARGE, writer, body))
    read = service.Needs.read

    blinded: list[bool] = []

    async def blind_read(needs: service.Needs, db: repository.Source) -> repository.BatchTargets:
        found = await read(needs, db)
        if not blinded:  # the first read only: the one that raced the other process
            blinded.append(True)
            found.seen.clear()
            found.claimed.clear()
        return found

    monkeypatch.setattr(service.Needs, "read", blind_read)
    fresh = _charge(records)
    other = body.model_copy(update={"notes": "another"})
    outcomes = await asyncio.gather(
        _settle(recorder, Unresolved(service.RESIDENT_CHARGE, writer, body)),
        _settle(recorder, Unresolved(service.RESIDENT_CHARGE, writer, other)),
        _settle(recorder, Unresolved(service.RESIDENT_CHARGE, writer, fresh)),
    )
    replayed, refused, recorded = outcomes
    assert replayed == first
    assert isinstance(refused, ApiError) and refused.code == "duplicate_reference"
    assert isinstance(recorded, AcceptedWrite) and recorded.job_id != first.job_id


async def test_the_largest_amount_is_recorded_exactly_on_both_engines(
    unit_database: Database,
) -> None:
    """Amounts past 2^31 cents up to the stated maximum are stored as they came (64-bit)."""
    records = await _records(unit_database)
    writer = factories.principal("write")
    large = _charge(records, amount_in_cents=MAX_AMOUNT_IN_CENTS)
    recorder = WriteRecorder(unit_database)
    outcomes = await asyncio.gather(
        *(
            _settle_any(recorder, Unresolved(service.RESIDENT_CHARGE, writer, body))
            for body in (_charge(records), large, _charge(records, amount_in_cents=2**31))
        )
    )
    assert all(isinstance(outcome, AcceptedWrite) for outcome in outcomes), outcomes
    async with unit_database.read() as session:
        for outcome, cents in zip(outcomes[1:], (MAX_AMOUNT_IN_CENTS, 2**31), strict=True):
            assert isinstance(outcome, AcceptedWrite)
            written = await repository.write_by_job(session, outcome.job_id)
            assert written is not None
            [item] = await repository.items_of(session, written.request.id)
            assert item.amount_in_cents == cents


async def _settle_any(recorder: WriteRecorder, entry: Unresolved) -> AcceptedWrite | Exception:
    try:
        return await recorder.record(entry)
    except Exception as error:
        return error


async def test_a_reference_is_claimed_per_pms_account(unit_database: Database) -> None:
    """Integrations of one account share its references; another account has its own."""
    mine = await _records(unit_database)
    sibling = await _records(unit_database, account_key=mine["account_key"])
    stranger = await _records(unit_database)
    writer = factories.principal("write")
    recorder = WriteRecorder(unit_database)
    first = await recorder.record(Unresolved(service.RESIDENT_CHARGE, writer, _charge(mine)))
    reference = first.body["reference_number"]
    outcomes = [
        await _settle(
            recorder,
            Unresolved(
                service.RESIDENT_CHARGE,
                writer,
                _charge(records, reference_number=reference.lower(), batch_id="b-2"),
            ),
        )
        for records in (sibling, stranger)
    ]
    refused, elsewhere = outcomes
    assert isinstance(refused, ApiError) and refused.code == "duplicate_reference"
    assert refused.details is not None and refused.details["job_id"] == first.job_id
    assert isinstance(elsewhere, AcceptedWrite)
