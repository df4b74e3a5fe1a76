"""Emitting webhook events: rows written in the caller's transaction, one delivery per listener.

Whoever changes data calls `emit` inside the transaction that changes it, so an event exists if
and only if its change was committed. The deliveries' job is queued in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propbridge.db.base import utcnow
from propbridge.db.engine import Executor
from propbridge.db.ids import new_id
from propbridge.jobs.kinds import JobKind, WebhookDeliveryPayload
from propbridge.jobs.queue import new_job_row
from propbridge.webhooks import repository

DATA_TRIGGERS = frozenset({"DATA_NEW", "DATA_UPDATE"})


@dataclass(frozen=True)
class Event:
    """What happened; `payload` is the JSON body the webhook receives."""

    trigger: str
    integration_id: str | None
    payload: dict[str, Any]
    model: str | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class Listener:
    """An active webhook as event matching needs it."""

    id: str
    triggers: list[dict[str, Any]]
    integration_ids: list[str] | None

    def hears(self, trigger: str, integration_id: str | None, model: str | None) -> bool:
        """Does this webhook want events of this kind, model and integration?"""
        if self.integration_ids is not None and integration_id not in self.integration_ids:
            return False
        return any(
            t["trigger"] == trigger
            and (trigger not in DATA_TRIGGERS or t.get("model") in (None, model))
            for t in self.triggers
        )


async def listeners(db: Executor) -> list[Listener]:
    """Every active webhook."""
    rows = await repository.active_listeners(db)
    return [Listener(row.id, row.triggers or [], row.integration_ids) for row in rows]


async def emit(db: Executor, events: list[Event], hooks: list[Listener] | None = None) -> int:
    """Write the events that someone listens to, their deliveries, and each listener's delivery
    job (one queued or running job per webhook drains its deliveries in order).

    Returns how many deliveries were created.
    """
    if not events:
        return 0
    if hooks is None:
        hooks = await listeners(db)
    if not hooks:
        return 0
    now = utcnow()
    event_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for event in events:
        heard_by = [
            h.id for h in hooks if h.hears(event.trigger, event.integration_id, event.model)
        ]
        if not heard_by:
            continue
        event_id = new_id()
        event_rows.append(
            {
                "id": event_id,
                "trigger": event.trigger,
                "integration_id": event.integration_id,
                "model": event.model,
                "record_id": event.record_id,
                "payload": {**event.payload, "webhook_event_id": event_id},
                "created_at": now,
            }
        )
        delivery_rows += [
            {
                "id": new_id(),
                "webhook_id": webhook_id,
                "event_id": event_id,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for webhook_id in heard_by
        ]
    if not delivery_rows:
        return 0
    webhook_ids = sorted({row["webhook_id"] for row in delivery_rows})
    await repository.lock_webhooks(db, webhook_ids)
    await repository.insert_events(db, event_rows, delivery_rows)
    for webhook_id in webhook_ids:
        await ensure_delivery_job(db, webhook_id)
    return len(delivery_rows)


def delivery_job_key(webhook_id: str) -> str:
    """The concurrency key that keeps one delivery job per webhook."""
    return f"webhook:{webhook_id}"


async def ensure_delivery_job(db: Executor, webhook_id: str, run_after: Any = None) -> None:
    """Queue the webhook's delivery job unless one is queued or running."""
    key = delivery_job_key(webhook_id)
    if await repository.has_active_job(db, key):
        return
    # A webhook of a key limited to some integrations delivers within the first one's job
    # concurrency: one tenant's slow endpoints cannot take every worker from the others.
    scope = await repository.webhook_scope(db, webhook_id)
    job = new_job_row(
        JobKind.WEBHOOK_DELIVERY,
        WebhookDeliveryPayload(webhook_id=webhook_id),
        integration_id=sorted(scope)[0] if scope else None,
        concurrency_key=key,
        max_attempts=3,
        run_after=run_after,
    )
    await repository.insert_job(db, job)
