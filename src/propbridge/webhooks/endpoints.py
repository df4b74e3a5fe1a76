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
from propbridge.api.errors import not_found
from propbridge.api.listing import parse_list_query, run_list
from propbridge.api.records import bool_param
from propbridge.auth.service import Principal
from propbridge.db.base import isoformat_z, utcnow
from propbridge.db.ids import new_id
from propbridge.runtime import Runtime
from propbridge.webhooks.events import DATA_TRIGGERS, ensure_delivery_job, lock_webhooks
from propbridge.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from propbridge.webhooks.schemas import WebhookCreate, WebhookUpdate
from propbridge.webhooks.signing import new_secret

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
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
    """A Webhook object (its secret decrypted)."""
    return {
        "id": hook.id,
        "created_at": isoformat_z(hook.created_at),
        "updated_at": isoformat_z(hook.updated_at),
        "url": hook.url,
        "headers": hook.headers or [],
        "active": hook.active,
        "secret": runtime.cipher.decrypt(hook.id, hook.secret_ciphertext)["secret"],
        "system": "PRODUCTION",
        "triggers": hook.triggers,
    }


def _may_see(hook: Any, principal: Principal) -> bool:
    if principal.integration_ids is None:
        return True
    return (
        hook.integration_ids is not None and set(hook.integration_ids) <= principal.integration_ids
    )


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
    active = bool_param(request, "active")
    query = parse_list_query(request, set(ORDERABLE))
    statement = select(*Webhook.__table__.columns).where(
        Webhook.deleted_at.is_(None), Webhook.active.is_(True if active is None else active)
    )
    rows, meta = await run_list(session, statement, query, ORDERABLE)
    runtime = get_runtime(request)
    hooks = [row for row in rows if _may_see(row, principal)]
    return {"meta": meta, "results": [present(runtime, hook) for hook in hooks]}


@router.post("/")
async def create_webhook(
    body: WebhookCreate, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """A new webhook; a secret is generated when none is given."""
    runtime = get_runtime(request)
    webhook_id = new_id()
    secret = body.secret or new_secret()
    async with runtime.database.write() as session:
        hook = Webhook(
            id=webhook_id,
            url=body.url,
            headers=[h.model_dump() for h in body.headers or []],
            active=body.active,
            secret_ciphertext=runtime.cipher.encrypt(webhook_id, {"secret": secret}),
            triggers=_triggers(list(body.triggers), body.model),
            integration_ids=None
            if principal.integration_ids is None
            else sorted(principal.integration_ids),
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
    async with runtime.database.write() as session:
        hook = await _get(session, principal, webhook_id)
        given = body.model_fields_set
        if "url" in given and body.url is not None:
            hook.url = body.url
        if "headers" in given:
            hook.headers = [h.model_dump() for h in body.headers or []]
        if "active" in given and body.active is not None:
            hook.active = body.active
        if "secret" in given and body.secret is not None:
            hook.secret_ciphertext = runtime.cipher.encrypt(hook.id, {"secret": body.secret})
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
    query = parse_list_query(request, set(DELIVERY_ORDERABLE))
    statement = (
        select(*DELIVERY_COLUMNS)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
    )
    state = request.query_params.get("state")
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
