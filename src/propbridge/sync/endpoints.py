"""`GET /v1/admin/integrations/{integration_id}/sync-runs` (ours): the record of each sync."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import read_session, require_scope
from propbridge.api.listing import parse_list_query
from propbridge.api.openapi import answers
from propbridge.api.parameters import documented, paging
from propbridge.auth.service import Principal
from propbridge.integrations.service import integration_for_admin
from propbridge.sync import service
from propbridge.sync.schemas import SyncRunList

router = APIRouter(prefix="/v1/admin/integrations", tags=["admin"])


@router.get(
    "/{integration_id}/sync-runs",
    **answers(
        SyncRunList,
        extension=True,
        **documented(paging(service.RUN_ORDERABLE, default_order="started_at:desc")),
    ),
)
async def list_sync_runs(
    integration_id: str,
    request: Request,
    principal: Principal = Depends(require_scope("admin")),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Syncs of one integration, newest first: when, how they ended, counts per model."""
    await integration_for_admin(session, principal, integration_id)
    query = parse_list_query(request, set(service.RUN_ORDERABLE), default="started_at:desc")
    return await service.list_runs(session, integration_id, query)
