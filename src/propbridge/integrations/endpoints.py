"""`/v1/admin/integrations/…`: thin routes over the integration service (admin scope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import get_runtime, read_session, require_scope
from propbridge.api.errors import ApiError
from propbridge.api.listing import parse_list_query
from propbridge.api.openapi import answers, body_read_by_hand
from propbridge.api.parameters import choice, documented, flag, paging
from propbridge.api.records import PROPEXO_VENDORS, bool_param, vendor_param
from propbridge.auth.service import Principal
from propbridge.integrations import service
from propbridge.integrations.schemas import (
    Deleted,
    IntegrationById,
    IntegrationCreate,
    IntegrationList,
    IntegrationResult,
    IntegrationUpdate,
    ManualSyncRequest,
    ManualSyncResult,
)

router = APIRouter(prefix="/v1/admin/integrations", tags=["admin"])
admin = require_scope("admin")
PAGING = paging(service.ORDERABLE)
LIST_FILTERS = (
    choice("integration_vendor", PROPEXO_VENDORS, "Only integrations with this PMS."),
    flag("is_archived", "Archived integrations (true) instead of live ones (false, the default)."),
)


@router.post("/", **answers(IntegrationResult))
async def create_integration(
    body: IntegrationCreate, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Create an integration; credentials are encrypted and never shown again."""
    if principal.integration_ids is not None:
        raise ApiError(403, "forbidden", "A key limited to some integrations cannot create one")
    runtime = get_runtime(request)
    async with runtime.database.write() as session:
        integration = await service.create_integration(
            session,
            runtime.cipher,
            body,
            service.Guards.of(runtime),
        )
    runtime.notify_job_enqueued()
    return {"result": service.present(integration, runtime.synced_models)}


@router.get("/", **answers(IntegrationList, **documented((*PAGING, *LIST_FILTERS))))
async def list_integrations(
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Integrations this key may manage (scoped in the statement, before counting and paging)."""
    query = parse_list_query(request, set(service.ORDERABLE))
    vendor = vendor_param(request)
    return await service.list_integrations(
        session,
        principal,
        query,
        get_runtime(request).synced_models,
        archived=bool_param(request, "is_archived") or False,
        vendor=vendor,
    )


@router.get("/{integration_id}/", **answers(IntegrationById, **documented(PAGING)))
async def get_integration(
    integration_id: str,
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One integration."""
    query = parse_list_query(request, set(service.ORDERABLE))
    integration = await service.integration_for_admin(session, principal, integration_id)
    synced = get_runtime(request).synced_models
    return {
        "meta": query.meta(1, 1),
        "results": await service.present_one(session, integration, synced),
    }


@router.put("/{integration_id}/", **answers(IntegrationResult))
async def update_integration(
    integration_id: str,
    body: IntegrationUpdate,
    request: Request,
    principal: Principal = Depends(admin),
) -> dict[str, Any]:
    """Change an integration's settings or credentials."""
    runtime = get_runtime(request)
    async with runtime.database.write() as session:
        integration = await service.integration_for_admin(session, principal, integration_id)
        await service.update_integration(
            session,
            runtime.cipher,
            integration,
            body,
            principal,
            service.Guards.of(runtime),
        )
    return {"result": service.present(integration, runtime.synced_models)}


@router.delete("/{integration_id}/", **answers(Deleted))
async def delete_integration(
    integration_id: str, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Archive an integration; its synced records are kept but no longer served."""
    runtime = get_runtime(request)
    async with runtime.database.write() as session:
        integration = await service.integration_for_admin(session, principal, integration_id)
        await service.delete_integration(session, integration)
    return {"success": True}


@router.post(
    "/{integration_id}/manual-sync",
    **answers(ManualSyncResult, **body_read_by_hand(ManualSyncRequest, required=False)),
)
async def manual_sync(
    integration_id: str, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Queue a sync now (or report the one already queued or running)."""
    raw = await request.body()
    body = ManualSyncRequest.model_validate_json(raw) if raw.strip() else ManualSyncRequest()
    runtime = get_runtime(request)
    async with runtime.database.write() as session:
        integration = await service.integration_for_admin(session, principal, integration_id)
        service.check_models(body.models_to_sync, runtime.synced_models)
        job = await service.request_sync(session, integration, body.models_to_sync)
    runtime.notify_job_enqueued()
    return {"result": {"success": True, "job_id": job.id}}
