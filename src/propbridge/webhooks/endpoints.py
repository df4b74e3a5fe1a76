"""`/v1/webhooks/` (Propexo's CRUD) and, ours, each webhook's deliveries with a redeliver action.

Admin scope: a webhook's secret comes back in its object. A key limited to some integrations
makes webhooks that hear only those, and sees only such webhooks.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import get_runtime, read_session, require_scope
from propbridge.api.errors import ApiError, bad_request, issue, not_found
from propbridge.api.listing import parse_list_query, run_list
from propbridge.api.records import bool_param
from propbridge.auth.service import Principal
from propbridge.db.base import isoformat_z, utcnow
from propbridge.db.ids import new_id
from propbridge.outbound import OutboundRefusedError
from propbridge.runtime import Runtime
from propbridge.webhooks.events import (
    DATA_TRIGGERS,
    ensure_delivery_job,
    lock_webhook_creation,
    lock_webhooks,
)
from propbridge.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from propbridge.webhooks.schemas import WebhookCreate, WebhookUpdate
from propbridge.webhooks.sealing import seal, unseal
from propbridge.webhooks.signing import new_secret

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
MAX_WEBHOOKS_PER_SCOPE = 25
DELIVERY_STATES = ("pending", "delivered", "dead", "cancelled")
admin = require_scope("admin")
ORDERABLE = {
    "id": Webhook.id,
    "created_at": Webhook.created_at,
    "updated_at": Webhook.updated_at,
    "url": Webhook.url,
    "active": Webhook.active,
}
DELIVERY_ORDERABLE = {
    "id": WebhookDelivery.id,
    "created_at": WebhookDelivery.created_at,
    "state": WebhookDelivery.state,
    "attempts": WebhookDelivery.attempts,
}


def _triggers(names: list[str], model: str | None) -> list[dict[str, Any]]:
    return [
        {"id": new_id(), "trigger": name, "model": model if name in DATA_TRIGGERS else None}
        for name in dict.fromkeys(names)
    ]


def present(runtime: Runtime, hook: Any) -> dict[str, Any]:
    """A Webhook object (its secret and headers decrypted)."""
    secret, headers = unseal(runtime.cipher, hook.id, hook.secret_ciphertext, hook.headers)
    return {
        "id": hook.id,
        "created_at": isoformat_z(hook.created_at),
        "updated_at": isoformat_z(hook.updated_at),
        "url": hook.url,
        "headers": headers,
        "active": hook.active,
        "secret": secret,
        "system": "PRODUCTION",
        "triggers": hook.triggers,
    }


def _may_see(hook: Any, principal: Principal) -> bool:
    if principal.integration_ids is None:
        return True
    return (
        hook.integration_ids is not None and set(hook.integration_ids) <= principal.integration_ids
    )


def _scope(principal: Principal) -> list[str] | None:
    """The integrations a key's webhooks hear (None: all)."""
    return None if principal.integration_ids is None else sorted(principal.integration_ids)


async def _visible_ids(session: AsyncSession, principal: Principal) -> list[str]:
    """The live webhooks a key may see (few: each key has at most `MAX_WEBHOOKS_PER_SCOPE`)."""
    rows = await session.execute(
        select(Webhook.id, Webhook.integration_ids).where(Webhook.deleted_at.is_(None))
    )
    return [row.id for row in rows if _may_see(row, principal)]


async def _check_url(runtime: Runtime, url: str) -> None:
    try:
        await runtime.outbound.check(url)
    except OutboundRefusedError as error:
        raise bad_request(
            f"url is not an allowed destination: {error}", [issue(["url"], str(error))]
        ) from error


async def _get(session: AsyncSession, principal: Principal, webhook_id: str) -> Webhook:
    hook = await session.get(Webhook, webhook_id)
    if hook is None or hook.deleted_at is not None or not _may_see(hook, principal):
        raise not_found(f"Webhook {webhook_id}")
    return hook


@router.get("/")
async def list_webhooks(
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Webhooks, active ones by default (`?active=false` for the others)."""
    query = parse_list_query(request, set(ORDERABLE), filters=("active",))
    active = bool_param(request, "active")
    # Scoped in the statement, before counting and paging: a key never learns how many
    # webhooks others have, nor (ordering by url) where they point.
    statement = select(*Webhook.__table__.columns).where(
        Webhook.id.in_(await _visible_ids(session, principal)),
        Webhook.active.is_(True if active is None else active),
    )
    rows, meta = await run_list(session, statement, query, ORDERABLE)
    runtime = get_runtime(request)
    return {"meta": meta, "results": [present(runtime, hook) for hook in rows]}


@router.post("/")
async def create_webhook(
    body: WebhookCreate, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """A new webhook; a secret is generated when none is given. At most
    `MAX_WEBHOOKS_PER_SCOPE` per key scope; the URL must pass the outbound policy."""
    runtime = get_runtime(request)
    await _check_url(runtime, body.url)
    webhook_id = new_id()
    secret = body.secret or new_secret()
    headers = [h.model_dump() for h in body.headers or []]
    scope = _scope(principal)
    async with runtime.database.write() as session:
        await lock_webhook_creation(session)
        same_scope = [
            row
            for row in await session.execute(
                select(Webhook.integration_ids).where(Webhook.deleted_at.is_(None))
            )
            if (sorted(row.integration_ids) if row.integration_ids is not None else None) == scope
        ]
        if len(same_scope) >= MAX_WEBHOOKS_PER_SCOPE:
            raise ApiError(
                409,
                "webhook_limit",
                f"At most {MAX_WEBHOOKS_PER_SCOPE} webhooks per set of integrations; delete one",
            )
        hook = Webhook(
            id=webhook_id,
            url=body.url,
            headers=[],
            active=body.active,
            secret_ciphertext=seal(runtime.cipher, webhook_id, secret, headers),
            triggers=_triggers(list(body.triggers), body.model),
            integration_ids=scope,
        )
        session.add(hook)
    return {"result": present(runtime, hook)}


@router.get("/{webhook_id}")
async def get_webhook(
    webhook_id: str,
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One webhook, in the list envelope."""
    hook = await _get(session, principal, webhook_id)
    query = parse_list_query(request, set(ORDERABLE))
    return {"meta": query.meta(1, 1), "results": present(get_runtime(request), hook)}


@router.put("/{webhook_id}")
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Change any of a webhook's fields (a new secret is used from the next attempt on)."""
    runtime = get_runtime(request)
    given = body.model_fields_set
    if "url" in given and body.url is not None:
        await _check_url(runtime, body.url)
    async with runtime.database.write() as session:
        hook = await _get(session, principal, webhook_id)
        if "url" in given and body.url is not None:
            hook.url = body.url
        secret, headers = unseal(runtime.cipher, hook.id, hook.secret_ciphertext, hook.headers)
        if "headers" in given:
            headers = [h.model_dump() for h in body.headers or []]
        if "secret" in given and body.secret is not None:
            secret = body.secret
        hook.secret_ciphertext = seal(runtime.cipher, hook.id, secret, headers)
        hook.headers = []
        if "active" in given and body.active is not None:
            hook.active = body.active
        if "triggers" in given and body.triggers is not None:
            hook.triggers = _triggers(list(body.triggers), body.model)
        elif "model" in given:
            hook.triggers = _triggers([t["trigger"] for t in hook.triggers], body.model)
        hook.updated_at = utcnow()
        if hook.active:
            await lock_webhooks(session, [hook.id])
            await ensure_delivery_job(session, hook.id)
    return {"result": present(runtime, hook)}


@router.delete("/{webhook_id}")
async def delete_webhook(
    webhook_id: str, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Delete a webhook: nothing more is sent to it; its pending deliveries are cancelled."""
    async with get_runtime(request).database.write() as session:
        hook = await _get(session, principal, webhook_id)
        hook.deleted_at = hook.updated_at = utcnow()
        hook.active = False
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.state == "pending")
            .values(state="cancelled", last_error="webhook deleted")
        )
    return {"result": {"id": webhook_id}}


def _present_delivery(row: Any, attempts: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "trigger": row.trigger,
        "state": row.state,
        "attempts": row.attempts,
        "created_at": isoformat_z(row.created_at),
        "next_attempt_at": isoformat_z(row.next_attempt_at) if row.state == "pending" else None,
        "delivered_at": isoformat_z(row.delivered_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "payload": row.payload,
        "attempt_log": [
            {
                "attempted_at": isoformat_z(a.attempted_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in attempts
        ],
    }


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


async def _attempts(session: AsyncSession, ids: list[str]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.id)
        )
        for attempt in rows.scalars():
            found[attempt.delivery_id].append(attempt)
    return found


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: str,
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Ours: a webhook's deliveries, newest first, with every attempt (`?state=` filters)."""
    await _get(session, principal, webhook_id)
    query = parse_list_query(request, set(DELIVERY_ORDERABLE), filters=("state",))
    statement = (
        select(*DELIVERY_COLUMNS)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
    )
    state = request.query_params.get("state")
    if state and state not in DELIVERY_STATES:
        raise bad_request(
            f"Unknown state {state!r}", [issue(["state"], f"One of {', '.join(DELIVERY_STATES)}")]
        )
    if state:
        statement = statement.where(WebhookDelivery.state == state)
    rows, meta = await run_list(session, statement, query, DELIVERY_ORDERABLE)
    attempts = await _attempts(session, [row.id for row in rows])
    return {"meta": meta, "results": [_present_delivery(row, attempts[row.id]) for row in rows]}


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(
    webhook_id: str, delivery_id: str, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Ours: send a delivery again (same `webhook-id`), after those already waiting."""
    runtime = get_runtime(request)
    async with runtime.database.write() as session:
        hook = await _get(session, principal, webhook_id)
        await lock_webhooks(session, [hook.id])
        found = await session.get(WebhookDelivery, delivery_id)
        if found is None or found.webhook_id != hook.id:
            raise not_found(f"Delivery {delivery_id}")
        found.state, found.next_attempt_at, found.first_attempt_at = "pending", utcnow(), None
        found.created_at = utcnow()
        if hook.active:
            await ensure_delivery_job(session, hook.id)
    runtime.notify_job_enqueued()
    async with runtime.database.read() as session:
        row = (
            await session.execute(
                select(*DELIVERY_COLUMNS)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).one()
        attempts = await _attempts(session, [delivery_id])
    return {"result": _present_delivery(row, attempts[delivery_id])}
