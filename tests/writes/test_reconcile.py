"""Reconciliation on a real database: a synced ledger transaction is credited to the write that
holds its reference in the PMS account (kind, lease, amount and date agreeing), within a retry
chain to the attempt the PMS took; and accepted items syncs keep not finding turn UNCONFIRMED."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.base import utcnow
from propbridge.integrations.models import Integration
from propbridge.webhooks.models import WebhookEvent
from propbridge.writes import reconcile
from propbridge.writes.models import WriteItem, WriteRequest
from tests import factories


def _charge(
    record_id: str,
    reference: str = "r-1",
    amount: int = 12_500,
    lease: str = "L-1",
    date: str = "2026-11-02",
) -> Any:
    """A synced resident charge as the sync hands it over."""
    fields = {
        "reference_number": reference,
        "x_lease_id": lease,
        "amount_in_cents": amount,
        "transaction_date": date,
    }
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


async def _retry(session: AsyncSession, of: WriteItem, status: str) -> WriteItem:
    """A retry of an item's write, re-sending it, its item now in `status`."""
    original = await session.get(WriteRequest, of.write_request_id)
    integration = await session.get(Integration, original.integration_id if original else "")
    assert original is not None and integration is not None
    retry = await factories.write_request(
        session,
        integration,
        job_state="succeeded",
        retry_of=original.id,
        retry_root=original.retry_root or original.id,
    )
    return await factories.write_item(session, retry, status=status)


async def test_an_accepted_item_matching_a_transaction_becomes_posted(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    item = await _accepted(session, integration, error="not yet in the ledger")
    item_id = item.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    posted = await _item(session, item_id)
    assert (posted.status, posted.record_id, posted.error) == ("POSTED", "rec-1", None)
    assert posted.posted_at is not None


async def test_an_outcome_unknown_item_is_matched_too(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    item = await _accepted(session, integration, status="OUTCOME_UNKNOWN")
    item_id = item.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    assert (await _item(session, item_id)).status == "POSTED"


async def test_the_reference_is_compared_without_case_outer_space_or_normal_form(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    item = await _accepted(session, integration, reference_number="Re\u0301f-A")
    item_id = item.id
    found = [_charge("rec-1", reference=" RÉF-a ")]
    assert await reconcile.reconcile(session, integration.id, found) == 1
    assert (await _item(session, item_id)).record_id == "rec-1"


async def test_what_differs_in_kind_lease_amount_date_or_integration_is_left_alone(
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
        _charge("rec-date", date="2026-11-03"),
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
    other = await factories.write_request(session, integration)
    pending = await factories.write_item(session, other, reference_number="r-2")
    ids = (rejected.id, pending.id)
    found = [_charge("rec-1"), _charge("rec-2", reference="r-2")]
    assert await reconcile.reconcile(session, integration.id, found) == 0
    assert [(await _item(session, i)).status for i in ids] == ["REJECTED", "PENDING"]


async def test_only_the_write_holding_the_reference_is_credited(session: AsyncSession) -> None:
    """Two writes sent one reference (as an upgrade may find them): the ledger row is the
    holder's, and nobody else's, however many rows carry the reference."""
    integration = await factories.integration(session)
    holder, other = await _accepted(session, integration), await _accepted(session, integration)
    ids = [holder.id, other.id]
    both = [_charge("rec-1"), _charge("rec-2")]
    assert await reconcile.reconcile(session, integration.id, both) == 1
    assert [(await _item(session, i)).record_id for i in ids] == ["rec-1", None]
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-3")]) == 0


async def test_a_write_in_another_integration_of_the_account_is_credited_by_its_own_sync(
    session: AsyncSession,
) -> None:
    """Record ids belong to the integration that synced them."""
    sender = await factories.integration(session)
    sibling = await factories.integration(session, account_key=sender.account_key)
    item = await _accepted(session, sender)
    item_id = item.id
    assert await reconcile.reconcile(session, sibling.id, [_charge("rec-s")]) == 0
    assert await reconcile.reconcile(session, sender.id, [_charge("rec-1")]) == 1
    assert (await _item(session, item_id)).record_id == "rec-1"


async def test_a_write_whose_integration_left_the_account_is_credited_by_another(
    session: AsyncSession,
) -> None:
    """Once the sending integration is deleted, or pointed at another account, nobody else
    would find its transaction: any integration still reading the account credits it."""
    gone = await factories.integration(session)
    moved = await factories.integration(session, account_key=gone.account_key)
    reader = await factories.integration(session, account_key=gone.account_key)
    left = await _accepted(session, gone, reference_number="r-gone")
    away = await _accepted(session, moved, reference_number="r-moved")
    ids = [left.id, away.id]
    gone.deleted_at = utcnow()
    moved.account_key = "another account"
    await session.flush()
    found = [_charge("rec-g", reference="r-gone"), _charge("rec-m", reference="r-moved")]
    assert await reconcile.reconcile(session, reader.id, found) == 2
    assert [(await _item(session, i)).record_id for i in ids] == ["rec-g", "rec-m"]


async def test_the_attempt_the_pms_took_is_credited_not_the_unknown_one(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    unknown = await _accepted(session, integration, status="OUTCOME_UNKNOWN")
    accepted = await _retry(session, unknown, "ACCEPTED")
    ids = [unknown.id, accepted.id]
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    assert [(await _item(session, i)).status for i in ids] == ["OUTCOME_UNKNOWN", "POSTED"]
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-2")]) == 0
    assert (await _item(session, ids[0])).status == "OUTCOME_UNKNOWN"


async def test_of_unknown_attempts_alone_the_latest_is_credited(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    first = await _accepted(session, integration, status="OUTCOME_UNKNOWN")
    rejected = await _retry(session, first, "REJECTED")
    latest = await _retry(session, first, "OUTCOME_UNKNOWN")
    ids = [first.id, rejected.id, latest.id]
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    states = [(await _item(session, i)).status for i in ids]
    assert states == ["OUTCOME_UNKNOWN", "REJECTED", "POSTED"]


async def test_a_record_already_matched_is_not_reused(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    item = await _accepted(session, integration, status="POSTED", record_id="rec-1")
    item_id = item.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 0
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-2")]) == 0
    assert (await _item(session, item_id)).record_id == "rec-1"


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


async def test_accepted_items_not_found_for_too_long_turn_unconfirmed_once(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    triggers = [{"id": "t", "trigger": "WRITE_UNCONFIRMED", "model": None}]
    await factories.webhook(session, triggers=triggers, integration_ids=[integration.id])
    now = utcnow()
    old = await _accepted(session, integration, accepted_at=now - timedelta(days=8))
    recent = await _accepted(
        session, integration, reference_number="r-2", accepted_at=now - timedelta(days=6)
    )
    ids = [old.id, recent.id]
    cutoff = now - timedelta(days=7)
    assert await reconcile.unconfirm_overdue(session, integration.id, cutoff) == 1
    assert await reconcile.unconfirm_overdue(session, integration.id, cutoff) == 0
    states = [(await _item(session, i)).status for i in ids]
    assert states == ["UNCONFIRMED", "ACCEPTED"]
    assert (await _item(session, ids[0])).unconfirmed_at is not None
    [event] = (
        await session.execute(
            select(WebhookEvent).where(WebhookEvent.integration_id == integration.id)
        )
    ).scalars()
    assert event.trigger == "WRITE_UNCONFIRMED"
    assert (event.payload["reference_number"], event.payload["index"]) == ("r-1", 0)


async def test_an_unconfirmed_item_can_still_be_posted(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    item = await _accepted(session, integration, status="UNCONFIRMED")
    item_id = item.id
    assert await reconcile.reconcile(session, integration.id, [_charge("rec-1")]) == 1
    assert (await _item(session, item_id)).status == "POSTED"
