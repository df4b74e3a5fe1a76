"""The webhooks repository: what a key may see, the per-scope count, and the order deliveries
are drained in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.ids import new_id
from propbridge.webhooks import repository
from propbridge.webhooks.models import WebhookDelivery
from tests import factories

T0 = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


async def test_visible_ids_are_live_webhooks_within_the_allow_list(session: AsyncSession) -> None:
    one, other, third = new_id(), new_id(), new_id()
    inside = await factories.webhook(session, integration_ids=[one])
    both = await factories.webhook(session, integration_ids=[other, one])
    resting = await factories.webhook(session, integration_ids=[one], active=False)
    beyond = await factories.webhook(session, integration_ids=[one, third])
    everywhere = await factories.webhook(session)
    deleted = await factories.webhook(session, integration_ids=[one], deleted_at=T0)
    narrow = set(await repository.visible_ids(session, frozenset({one})))
    assert {inside.id, resting.id} <= narrow
    assert not {both.id, beyond.id, everywhere.id, deleted.id} & narrow
    wide = set(await repository.visible_ids(session, frozenset({one, other})))
    assert {inside.id, both.id, resting.id} <= wide
    assert not {beyond.id, everywhere.id, deleted.id} & wide
    unlimited = set(await repository.visible_ids(session, None))
    assert {inside.id, both.id, resting.id, beyond.id, everywhere.id} <= unlimited
    assert deleted.id not in unlimited


async def test_count_in_scope_counts_exactly_that_set_in_any_order(session: AsyncSession) -> None:
    one, other = sorted((new_id(), new_id()))
    await factories.webhook(session, integration_ids=[other, one])
    await factories.webhook(session, integration_ids=[one, other], active=False)
    await factories.webhook(session, integration_ids=[one, other], deleted_at=T0)
    await factories.webhook(session, integration_ids=[one])
    assert await repository.count_in_scope(session, [one, other]) == 2
    assert await repository.count_in_scope(session, [one]) == 1
    assert await repository.count_in_scope(session, [other]) == 0
    unscoped = await repository.count_in_scope(session, None)
    await factories.webhook(session)
    assert await repository.count_in_scope(session, None) == unscoped + 1


async def test_due_deliveries_are_pending_ones_oldest_first_then_by_id(
    session: AsyncSession,
) -> None:
    hook = await factories.webhook(session)
    prefix = new_id()[:-2]
    later = await factories.webhook_delivery(
        session, hook, id=prefix + "01", created_at=T0 + timedelta(minutes=5)
    )
    tie_b = await factories.webhook_delivery(session, hook, id=prefix + "03", created_at=T0)
    tie_a = await factories.webhook_delivery(session, hook, id=prefix + "02", created_at=T0)
    await factories.webhook_delivery(
        session, hook, state="delivered", created_at=T0 - timedelta(days=1)
    )
    await factories.webhook_delivery(
        session, hook, state="cancelled", created_at=T0 - timedelta(days=1)
    )
    await factories.webhook_delivery(
        session, await factories.webhook(session), created_at=T0 - timedelta(days=1)
    )
    due = await repository.due_deliveries(session, hook.id, 10)
    assert [row.id for row in due] == [tie_a.id, tie_b.id, later.id]
    assert due[0].payload == {"event": "DATA_NEW"} and due[0].attempts == 0
    assert [row.id for row in await repository.due_deliveries(session, hook.id, 2)] == [
        tie_a.id,
        tie_b.id,
    ]


async def test_next_due_is_when_the_oldest_pending_delivery_is_due(
    session: AsyncSession,
) -> None:
    hook = await factories.webhook(session)
    assert await repository.next_due(session, hook.id) is None
    await factories.webhook_delivery(
        session, hook, state="delivered", created_at=T0 - timedelta(hours=1), next_attempt_at=T0
    )
    assert await repository.next_due(session, hook.id) is None
    # The oldest pending one, even when a newer one would be due sooner (order is kept).
    await factories.webhook_delivery(
        session, hook, created_at=T0, next_attempt_at=T0 + timedelta(hours=2)
    )
    await factories.webhook_delivery(
        session, hook, created_at=T0 + timedelta(minutes=1), next_attempt_at=T0
    )
    assert await repository.next_due(session, hook.id) == T0 + timedelta(hours=2)


async def test_record_attempts_writes_attempts_and_updates_each_delivery(
    session: AsyncSession,
) -> None:
    hook = await factories.webhook(session)
    sent, failing = (
        await factories.webhook_delivery(session, hook),
        await factories.webhook_delivery(session, hook),
    )
    untouched = await factories.webhook_delivery(session, hook)
    retry_at = T0 + timedelta(minutes=10)
    await repository.record_attempts(
        session,
        [
            (
                sent.id,
                {"state": "delivered", "attempts": 1, "delivered_at": T0, "last_status_code": 204},
                {
                    "delivery_id": sent.id,
                    "attempted_at": T0,
                    "status_code": 204,
                    "latency_ms": 12.5,
                },
            ),
            (
                failing.id,
                {"attempts": 1, "next_attempt_at": retry_at, "last_error": "connection refused"},
                {"delivery_id": failing.id, "attempted_at": T0, "error": "connection refused"},
            ),
        ],
    )
    rows = await session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.state,
            WebhookDelivery.attempts,
            WebhookDelivery.delivered_at,
            WebhookDelivery.next_attempt_at,
            WebhookDelivery.last_error,
        ).where(WebhookDelivery.webhook_id == hook.id)
    )
    by_id = {row.id: row for row in rows}
    assert (by_id[sent.id].state, by_id[sent.id].attempts) == ("delivered", 1)
    assert by_id[sent.id].delivered_at == T0
    assert (by_id[failing.id].state, by_id[failing.id].attempts) == ("pending", 1)
    assert by_id[failing.id].next_attempt_at == retry_at
    assert by_id[failing.id].last_error == "connection refused"
    assert (by_id[untouched.id].state, by_id[untouched.id].attempts) == ("pending", 0)
    attempts = await repository.attempts_of(session, [sent.id, failing.id, untouched.id])
    assert [(a.status_code, a.latency_ms) for a in attempts[sent.id]] == [(204, 12.5)]
    assert [(a.status_code, a.error) for a in attempts[failing.id]] == [
        (None, "connection refused")
    ]
    assert attempts[untouched.id] == []
    await repository.record_attempts(
        session,
        [
            (
                failing.id,
                {"attempts": 2},
                {"delivery_id": failing.id, "attempted_at": retry_at, "status_code": 500},
            )
        ],
    )
    again = await repository.attempts_of(session, [failing.id])
    assert [a.status_code for a in again[failing.id]] == [None, 500]
    assert [a.attempted_at for a in again[failing.id]] == [T0, retry_at]
