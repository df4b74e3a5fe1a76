"""Every query of webhooks: the webhooks a key may see (scoped in the statement, before counting
and paging), listeners, events and their deliveries, attempts, the delivery job, and the locks
that keep deliveries in order.

Never commits: the request or the job owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.engine import Executor
from propbridge.jobs.models import ACTIVE_STATES, Job
from propbridge.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent

# Any fixed number: the advisory lock that makes webhook creations count one at a time.
CREATION_LOCK = 7_140_002
DELIVERY_COLUMNS = (
    WebhookDelivery.id,
    WebhookDelivery.event_id,
    WebhookDelivery.state,
    WebhookDelivery.attempts,
    WebhookDelivery.created_at,
    WebhookDelivery.next_attempt_at,
    WebhookDelivery.delivered_at,
    WebhookDelivery.last_status_code,
    WebhookDelivery.last_error,
    WebhookEvent.trigger,
    WebhookEvent.payload,
)


def _may_see(integration_ids: list[str] | None, allowed: frozenset[str] | None) -> bool:
    """A key limited to some integrations sees the webhooks that hear only those."""
    return allowed is None or (integration_ids is not None and set(integration_ids) <= allowed)


# ---- Webhooks -----------------------------------------------------------------------------------


async def visible_ids(db: Executor, allowed: frozenset[str] | None) -> list[str]:
    """The live webhooks a key limited to `allowed` (None: all) may see; few (each key scope
    has a bounded number)."""
    rows = await db.execute(
        select(Webhook.id, Webhook.integration_ids).where(Webhook.deleted_at.is_(None))
    )
    return [row.id for row in rows if _may_see(row.integration_ids, allowed)]


def webhooks_statement(ids: Sequence[str], active: bool) -> Select[Any]:
    """Every column of these webhooks that are (or are not) active."""
    return select(*Webhook.__table__.columns).where(Webhook.id.in_(ids), Webhook.active.is_(active))


async def visible_webhook(
    session: AsyncSession, webhook_id: str, allowed: frozenset[str] | None
) -> Webhook | None:
    """A live webhook, if a key limited to `allowed` may see it."""
    hook = await session.get(Webhook, webhook_id)
    if hook is None or hook.deleted_at is not None or not _may_see(hook.integration_ids, allowed):
        return None
    return hook


async def count_in_scope(db: Executor, scope: list[str] | None) -> int:
    """Live webhooks that hear exactly these integrations (None: all)."""
    rows = await db.execute(select(Webhook.integration_ids).where(Webhook.deleted_at.is_(None)))
    return sum(
        1
        for row in rows
        if (sorted(row.integration_ids) if row.integration_ids is not None else None) == scope
    )


async def webhook_for_delivery(db: Executor, webhook_id: str) -> Any | None:
    """What sending to a webhook needs: where, whether it may, its sealed secret."""
    return (
        await db.execute(
            select(
                Webhook.url,
                Webhook.headers,
                Webhook.active,
                Webhook.deleted_at,
                Webhook.secret_ciphertext,
            ).where(Webhook.id == webhook_id)
        )
    ).first()


async def active_listeners(db: Executor) -> list[Any]:
    """`(id, triggers, integration_ids)` of every active webhook."""
    rows = await db.execute(
        select(Webhook.id, Webhook.triggers, Webhook.integration_ids).where(
            Webhook.active.is_(True), Webhook.deleted_at.is_(None)
        )
    )
    return list(rows)


async def webhook_scope(db: Executor, webhook_id: str) -> list[str] | None:
    """The integrations a webhook hears (None: all)."""
    scope: list[str] | None = (
        await db.execute(select(Webhook.integration_ids).where(Webhook.id == webhook_id))
    ).scalar()
    return scope


async def plain_headers(db: Executor) -> list[Any]:
    """Webhooks whose header values are still stored in plain text (before sealing existed)."""
    rows = await db.execute(
        select(Webhook.id, Webhook.headers, Webhook.secret_ciphertext).where(
            Webhook.headers.is_not(None)
        )
    )
    return [row for row in rows.all() if row.headers]


async def set_sealed(db: Executor, webhook_id: str, ciphertext: bytes) -> None:
    """A webhook's sealed secret and headers; nothing left in plain text."""
    await db.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id)
        .values(secret_ciphertext=ciphertext, headers=[])
    )


# ---- Locks --------------------------------------------------------------------------------------


async def lock_webhooks(db: Executor, webhook_ids: list[str]) -> None:
    """Lock webhook rows until the transaction ends (PostgreSQL; SQLite writers are serial).

    Whoever adds pending deliveries and a delivery job deciding it has none left take this
    lock first, so a delivery never waits behind a job that has already looked and found nothing.
    """
    await db.execute(select(Webhook.id).where(Webhook.id.in_(webhook_ids)).with_for_update())


async def lock_webhook_creation(db: Executor) -> None:
    """Serialise webhook creations (PostgreSQL; SQLite writers are serial), so that concurrent
    ones cannot pass the per-scope cap together."""
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    if connection.dialect.name == "postgresql":
        await db.execute(select(func.pg_advisory_xact_lock(CREATION_LOCK)))


# ---- Events, deliveries, attempts -------------------------------------------------------------


async def insert_events(
    db: Executor, events: list[dict[str, Any]], deliveries: list[dict[str, Any]]
) -> None:
    """New events and their deliveries."""
    await db.execute(insert(WebhookEvent), events)
    await db.execute(insert(WebhookDelivery), deliveries)


async def has_active_job(db: Executor, concurrency_key: str) -> bool:
    """Is a job of this concurrency key queued or running?"""
    found = await db.execute(
        select(Job.id).where(Job.concurrency_key == concurrency_key, Job.state.in_(ACTIVE_STATES))
    )
    return found.first() is not None


async def insert_job(db: Executor, row: dict[str, Any]) -> None:
    """A new job row."""
    await db.execute(insert(Job), [row])


def deliveries_statement(webhook_id: str, state: str | None) -> Select[Any]:
    """A webhook's deliveries with their events (in some state, if given)."""
    statement = (
        select(*DELIVERY_COLUMNS)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
    )
    return statement if state is None else statement.where(WebhookDelivery.state == state)


async def delivery_row(db: Executor, delivery_id: str) -> Any:
    """One delivery with its event."""
    return (
        await db.execute(
            select(*DELIVERY_COLUMNS)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).one()


async def delivery_of(
    session: AsyncSession, webhook_id: str, delivery_id: str
) -> WebhookDelivery | None:
    """A delivery of this webhook."""
    found = await session.get(WebhookDelivery, delivery_id)
    return found if found is not None and found.webhook_id == webhook_id else None


async def attempts_of(db: Executor, delivery_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Every attempt of these deliveries, oldest first, by delivery."""
    found: dict[str, list[Any]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        rows = await db.execute(
            select(*WebhookAttempt.__table__.columns)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.id)
        )
        for attempt in rows:
            found[attempt.delivery_id].append(attempt)
    return found


async def cancel_pending(db: Executor, webhook_id: str, reason: str) -> None:
    """Cancel a webhook's pending deliveries."""
    await db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == "pending")
        .values(state="cancelled", last_error=reason)
    )


async def due_deliveries(db: Executor, webhook_id: str, limit: int) -> list[Any]:
    """A webhook's pending deliveries, oldest first, with their payloads."""
    rows = await db.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.attempts,
            WebhookDelivery.next_attempt_at,
            WebhookDelivery.first_attempt_at,
            WebhookEvent.payload,
        )
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == "pending")
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        .limit(limit)
    )
    return list(rows)


async def record_attempts(
    db: Executor, outcomes: Sequence[tuple[str, dict[str, Any], dict[str, Any]]]
) -> None:
    """Attempts made, and each delivery's new values: `(delivery_id, values, attempt row)`."""
    await db.execute(insert(WebhookAttempt), [attempt for _, _, attempt in outcomes])
    for delivery_id, values, _ in outcomes:
        await db.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
        )


async def next_due(db: Executor, webhook_id: str) -> datetime | None:
    """When a webhook's oldest pending delivery is due (None: none is pending)."""
    due: datetime | None = (
        await db.execute(
            select(WebhookDelivery.next_attempt_at)
            .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == "pending")
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    return due
