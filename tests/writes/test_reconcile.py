"""Reconciliation on a real database: synced ledger transactions matched to the write items
that made them (same kind, lease, reference and amount), each record to one item."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.integrations.models import Integration
from propbridge.webhooks.models import WebhookEvent
from propbridge.writes import reconcile
from propbridge.writes.models import WriteItem, WriteRequest
from tests import factories


def _charge(
    record_id: str, reference: str = "r-1", amount: int = 12_500, lease: str = "L-1"
) -> Any:
    """A synced resident charge as the sync hands it over."""
    fields = {"reference_number": reference, "x_lease_id": lease, "amount_in_cents": amount}
    return ("resident_charges", record_id, fields)


async def _item(session: AsyncSession, item_id: str) -> WriteItem:
    found = (
        await session.execute(
            select(WriteItem)
            .where(WriteItem.id == item_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return found


async def _errors(session: AsyncSession, request_id: str) -> list[str]:
    found = await session.get(WriteRequest, request_id, populate_existing=True)
    assert found is not None
    return found.errors


async def _accepted(session: AsyncSession, of: Integration, **values: Any) -> WriteItem:
    write = await factories.write_request(session, of, job_state="succeeded")
    return await factories.write_item(session, write, **{"status": "ACCEPTED", **values})


async def test_an_accepted_item_matching_a_transaction_becomes_posted(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    item = await _accepted(session, integration, error="not yet in the ledger")
    item_id = item.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    posted = await _item(session, item_id)
    assert (posted.status, posted.record_id, posted.error) == ("POSTED", "rec-1", None)


async def test_an_outcome_unknown_item_is_matched_too(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    item = await _accepted(session, integration, status="OUTCOME_UNKNOWN")
    item_id = item.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    assert (await _item(session, item_id)).status == "POSTED"


async def test_what_differs_in_kind_lease_amount_or_integration_is_left_alone(
    session: AsyncSession,
) -> None:
    integration, other = await factories.integration(session), await factories.integration(session)
    item = await _accepted(session, integration)
    elsewhere = await _accepted(session, other)
    item_id, elsewhere_id = item.id, elsewhere.id
    payment = ("resident_payments", "rec-p", _charge("x")[2])
    found = [
        _charge("rec-amount", amount=12_501),
        _charge("rec-lease", lease="L-2"),
        _charge("rec-ref", reference="r-2"),
        payment,
        ("fees", "rec-fee", _charge("x")[2]),
    ]
    assert await reconcile.reconcile(session, integration.id, found) == 0
    assert await reconcile.reconcile(session, other.id, [_charge("rec-1", amount=1)]) == 0
    for untouched in (await _item(session, item_id), await _item(session, elsewhere_id)):
        assert (untouched.status, untouched.record_id) == ("ACCEPTED", None)


async def test_items_not_open_are_not_matched(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    rejected = await _accepted(session, integration, status="REJECTED")
    pending = await _accepted(session, integration, status="PENDING")
    ids = (rejected.id, pending.id)
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 0
    assert [(await _item(session, i)).status for i in ids] == ["REJECTED", "PENDING"]


async def test_a_record_already_matched_is_not_reused(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    await _accepted(session, integration, status="POSTED", record_id="rec-1")
    second = await _accepted(session, integration)
    second_id = second.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 0
    waiting = await _item(session, second_id)
    assert (waiting.status, waiting.record_id) == ("ACCEPTED", None)
    both = [_charge("rec-1"), _charge("rec-2")]
    assert await reconcile.reconcile(session, integration.id, both) == 1
    assert (await _item(session, second_id)).record_id == "rec-2"


async def test_one_record_goes_to_one_of_two_identical_items(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    first, second = await _accepted(session, integration), await _accepted(session, integration)
    ids = [first.id, second.id]
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    records = sorted([str((await _item(session, i)).record_id) for i in ids])
    assert records == ["None", "rec-1"]
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 0
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-2")]) == 1
    assert {(await _item(session, i)).record_id for i in ids} == {"rec-1", "rec-2"}


async def test_errors_are_cleared_once_every_item_reached_the_ledger(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    write = await factories.write_request(
        session, integration, job_state="succeeded", errors=["Outcome unknown"]
    )
    for position, reference in enumerate(("r-1", "r-2")):
        await factories.write_item(
            session, write, position=position, reference_number=reference, status="OUTCOME_UNKNOWN"
        )
    write_id = write.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    assert await _errors(session, write_id) == ["Outcome unknown"]
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-2", "r-2")]) == 1
    assert await _errors(session, write_id) == []


async def test_errors_stay_while_an_item_was_rejected(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    write = await factories.write_request(
        session, integration, job_state="succeeded", errors=["Charge 1 refused"]
    )
    await factories.write_item(session, write, status="ACCEPTED")
    await factories.write_item(
        session, write, position=1, reference_number="r-2", status="REJECTED"
    )
    write_id = write.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    assert await _errors(session, write_id) == ["Charge 1 refused"]


async def test_a_listening_webhook_hears_write_reconciled(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    triggers = [{"id": "t", "trigger": "WRITE_RECONCILED", "model": None}]
    await factories.webhook(session, triggers=triggers, integration_ids=[integration.id])
    item = await _accepted(session, integration)
    write = await session.get(WriteRequest, item.write_request_id)
    assert write is not None
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    [event] = (
        await session.execute(
            select(WebhookEvent).where(WebhookEvent.integration_id == integration.id)
        )
    ).scalars()
    assert event.trigger == "WRITE_RECONCILED"
    assert event.payload["root_job_id"] == write.job_id
    assert event.payload["posted"] == [{"reference_number": "r-1", "record_id": "rec-1"}]


async def test_nothing_to_match_reads_nothing(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    item = await _accepted(session, integration)
    item_id = item.id
    incomplete = [("resident_charges", "rec-1", {"reference_number": "r-1"})]
    assert await reconcile.reconcile(session, integration.id, incomplete) == 0
    assert await reconcile.reconcile(session, integration.id, []) == 0
    assert (await _item(session, item_id)).status == "ACCEPTED"
