"""`/v1/webhooks/` (Propexo's CRUD) and, ours, each webhook's deliveries with a redeliver action.

Thin: parse, call the service, shape the answer. Admin scope: a webhook's secret comes back in
its object.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import get_runtime, read_session, require_scope
from propbridge.api.destinations import require_destination
from propbridge.api.listing import parse_list_query
from propbridge.api.openapi import answers
from propbridge.api.parameters import choice, documented, flag, paging
from propbridge.api.records import bool_param
from propbridge.auth.service import Principal
from propbridge.webhooks import service
from propbridge.webhooks.presenters import present_webhook
from propbridge.webhooks.schemas import (
    DeliveryList,
    DeliveryResult,
    WebhookById,
    WebhookCreate,
    WebhookDeleted,
    WebhookList,
    WebhookResult,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
admin = require_scope("admin")
ACTIVE = flag(
    "active",
    "Active webhooks only (true, the default, as Propexo), or inactive ones only (false).",
)


@router.get("/", **answers(WebhookList, **documented((*paging(service.ORDERABLE), ACTIVE))))
async def list_webhooks(
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Webhooks, active ones by default (`?active=false` for the others)."""
    query = parse_list_query(request, set(service.ORDERABLE))
    active = bool_param(request, "active")
    rows, meta = await service.list_webhooks(session, principal, query, active)
    cipher = get_runtime(request).cipher
    return {"meta": meta, "results": [present_webhook(cipher, hook) for hook in rows]}


@router.post("/", **answers(WebhookResult))
async def create_webhook(
    body: WebhookCreate, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """A new webhook; a secret is generated when none is given. At most
    `MAX_WEBHOOKS_PER_SCOPE` per key scope; the URL must pass the outbound policy."""
    runtime = get_runtime(request)
    service.check_model(body.model, runtime.synced_models)
    await require_destination(runtime.outbound, body.url, "url")
    async with runtime.database.write() as session:
        hook = await service.create_webhook(session, runtime.cipher, principal, body)
    return {"result": present_webhook(runtime.cipher, hook)}


@router.get("/{webhook_id}", **answers(WebhookById, **documented(paging(service.ORDERABLE))))
async def get_webhook(
    webhook_id: str,
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One webhook, in the list envelope."""
    hook = await service.visible_webhook(session, principal, webhook_id)
    query = parse_list_query(request, set(service.ORDERABLE))
    return {"meta": query.meta(1, 1), "results": present_webhook(get_runtime(request).cipher, hook)}


@router.put("/{webhook_id}", **answers(WebhookResult))
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Change any of a webhook's fields (a new secret is used from the next attempt on)."""
    runtime = get_runtime(request)
    service.check_model(body.model, runtime.synced_models)
    if "url" in body.model_fields_set and body.url is not None:
        await require_destination(runtime.outbound, body.url, "url")
    async with runtime.database.write() as session:
        hook = await service.visible_webhook(session, principal, webhook_id)
        await service.update_webhook(session, runtime.cipher, hook, body)
    return {"result": present_webhook(runtime.cipher, hook)}


@router.delete("/{webhook_id}", **answers(WebhookDeleted))
async def delete_webhook(
    webhook_id: str, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Delete a webhook: nothing more is sent to it; its pending deliveries are cancelled."""
    async with get_runtime(request).database.write() as session:
        hook = await service.visible_webhook(session, principal, webhook_id)
        await service.delete_webhook(session, hook)
    return {"result": {"id": webhook_id}}


@router.get(
    "/{webhook_id}/deliveries",
    **answers(
        DeliveryList,
        extension=True,
        **documented(
            (
                *paging(service.DELIVERY_ORDERABLE),
                choice("state", service.DELIVERY_STATES, "Only deliveries in this state."),
            )
        ),
    ),
)
async def list_deliveries(
    webhook_id: str,
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Ours: a webhook's deliveries, newest first, with every attempt (`?state=` filters)."""
    await service.visible_webhook(session, principal, webhook_id)
    query = parse_list_query(request, set(service.DELIVERY_ORDERABLE))
    state = request.query_params.get("state")
    return await service.list_deliveries(session, webhook_id, query, state)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver", **answers(DeliveryResult, extension=True)
)
async def redeliver(
    webhook_id: str, delivery_id: str, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Ours: send a delivery again (same `webhook-id`), after those already waiting."""
    runtime = get_runtime(request)
    async with runtime.database.write() as session:
        hook = await service.visible_webhook(session, principal, webhook_id)
        await service.redeliver(session, hook, delivery_id)
    runtime.notify_job_enqueued()
    async with runtime.database.read() as session:
        return {"result": await service.delivery(session, delivery_id)}
