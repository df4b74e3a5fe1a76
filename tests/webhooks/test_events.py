"""Webhook events: who hears what, and what emitting writes (events, deliveries, one delivery
job per webhook)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.base import utcnow
from propbridge.db.ids import new_id
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.models import Job
from propbridge.webhooks import events
from propbridge.webhooks.events import Event, Listener
from propbridge.webhooks.models import WebhookDelivery, WebhookEvent
from tests import factories


def _trigger(name: str, model: str | None = None) -> dict[str, Any]:
    return {"id": new_id(), "trigger": name, "model": model}


def test_a_listener_hears_only_its_triggers() -> None:
    listener = Listener("w", [_trigger("DATA_NEW"), _trigger("JOB_FAILURE")], None)
    assert listener.hears("DATA_NEW", "i", "residents")
    assert listener.hears("JOB_FAILURE", None, None)
    assert not listener.hears("DATA_UPDATE", "i", "residents")
    assert not listener.hears("SYNC_COMPLETE", "i", None)
    assert not Listener("w", [], None).hears("DATA_NEW", "i", "residents")


def test_a_model_filter_applies_to_data_triggers_only() -> None:
    listener = Listener(
        "w", [_trigger("DATA_UPDATE", "residents"), _trigger("SYNC_COMPLETE", "residents")], None
    )
    assert listener.hears("DATA_UPDATE", "i", "residents")
    assert not listener.hears("DATA_UPDATE", "i", "leases")
    assert not listener.hears("DATA_UPDATE", "i", None)
    assert listener.hears("SYNC_COMPLETE", "i", "leases")
    assert listener.hears("SYNC_COMPLETE", "i", None)
    any_model = Listener("w", [_trigger("DATA_UPDATE")], None)
    assert any_model.hears("DATA_UPDATE", "i", "leases")


def test_a_scoped_listener_hears_only_its_integrations() -> None:
    scoped = Listener("w", [_trigger("JOB_SUCCESS")], ["a", "b"])
    assert scoped.hears("JOB_SUCCESS", "a", None) and scoped.hears("JOB_SUCCESS", "b", None)
    assert not scoped.hears("JOB_SUCCESS", "c", None)
    assert not scoped.hears("JOB_SUCCESS", None, None)
    everywhere = Listener("w", [_trigger("JOB_SUCCESS")], None)
    assert everywhere.hears("JOB_SUCCESS", "c", None) and everywhere.hears(
        "JOB_SUCCESS", None, None
    )


async def _count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _jobs_of(session: AsyncSession, webhook_id: str) -> list[Any]:
    rows = await session.execute(
        select(Job.kind, Job.state, Job.integration_id, Job.payload).where(
            Job.concurrency_key == events.delivery_job_key(webhook_id)
        )
    )
    return list(rows)


async def test_emit_writes_each_heard_event_and_one_delivery_per_listener(
    session: AsyncSession,
) -> None:
    here, there = sorted((new_id(), new_id()))
    everything = await factories.webhook(session)
    residents_here = await factories.webhook(
        session, triggers=[_trigger("DATA_NEW", "residents")], integration_ids=[there, here]
    )
    resting = await factories.webhook(session, active=False)
    deleted = await factories.webhook(session, deleted_at=utcnow())
    made = await events.emit(
        session,
        [
            Event("DATA_NEW", here, {"model": "residents"}, "residents", new_id()),
            Event("DATA_NEW", there, {"model": "leases"}, "leases", new_id()),
            Event("JOB_FAILURE", here, {"job": "x"}),
        ],
    )
    assert made == 3
    rows = await session.execute(
        select(WebhookDelivery.webhook_id, WebhookDelivery.state, WebhookEvent.model)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.webhook_id.in_(
                [everything.id, residents_here.id, resting.id, deleted.id]
            )
        )
    )
    assert sorted((row.webhook_id, row.state, row.model) for row in rows) == sorted(
        [
            (everything.id, "pending", "residents"),
            (everything.id, "pending", "leases"),
            (residents_here.id, "pending", "residents"),
        ]
    )
    written = await session.execute(
        select(WebhookEvent.id, WebhookEvent.trigger, WebhookEvent.payload).where(
            WebhookEvent.integration_id.in_([here, there])
        )
    )
    written_rows = list(written)
    assert sorted(row.payload["model"] for row in written_rows) == ["leases", "residents"]
    assert all(row.payload["webhook_event_id"] == row.id for row in written_rows)
    assert {row.trigger for row in written_rows} == {"DATA_NEW"}  # nobody heard JOB_FAILURE
    [job] = await _jobs_of(session, everything.id)
    assert (job.kind, job.state, job.integration_id) == (JobKind.WEBHOOK_DELIVERY, "queued", None)
    assert job.payload == {"webhook_id": everything.id}
    [scoped_job] = await _jobs_of(session, residents_here.id)
    assert scoped_job.integration_id == here
    assert await _jobs_of(session, resting.id) == []
    assert await _jobs_of(session, deleted.id) == []


async def test_emitting_twice_queues_one_job_per_webhook(session: AsyncSession) -> None:
    hook = await factories.webhook(session)
    event = Event("DATA_NEW", None, {}, "residents")
    assert await events.emit(session, [event]) == 1
    assert await events.emit(session, [event, event]) == 2
    delivered = await session.scalar(
        select(func.count()).where(WebhookDelivery.webhook_id == hook.id)
    )
    assert delivered == 3
    assert len(await _jobs_of(session, hook.id)) == 1


async def test_nothing_is_written_when_nobody_listens(session: AsyncSession) -> None:
    await factories.webhook(session, triggers=[_trigger("SYNC_COMPLETE")])
    await factories.webhook(session, integration_ids=[new_id()])
    await factories.webhook(session, active=False)
    before = [await _count(session, table) for table in (WebhookEvent, WebhookDelivery, Job)]
    unheard = [Event("DATA_NEW", new_id(), {}, "residents"), Event("WRITE_RECONCILED", None, {})]
    assert await events.emit(session, unheard) == 0
    assert await events.emit(session, []) == 0
    heard_by_one = [Event("SYNC_COMPLETE", None, {})]
    assert await events.emit(session, heard_by_one, hooks=[]) == 0
    after = [await _count(session, table) for table in (WebhookEvent, WebhookDelivery, Job)]
    assert after == before
    assert await events.emit(session, heard_by_one) == 1  # the same session does hear it
