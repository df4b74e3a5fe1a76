"""`GET /v1/admin/integrations/{integration_id}/sync-runs` (ours): the record of each sync."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import read_session, require_scope
from propbridge.api.listing import parse_list_query, run_list
from propbridge.auth.service import Principal
from propbridge.db.base import isoformat_z
from propbridge.integrations.service import integration_for_admin
from propbridge.sync.models import SyncRun

router = APIRouter(prefix="/v1/admin/integrations", tags=["admin"])
ORDERABLE = {
    "started_at": SyncRun.started_at,
    "finished_at": SyncRun.finished_at,
    "id": SyncRun.id,
    "state": SyncRun.state,
}


@router.get("/{integration_id}/sync-runs")
async def list_sync_runs(
    integration_id: str,
    request: Request,
    principal: Principal = Depends(require_scope("admin")),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Syncs of one integration, newest first: when, how they ended, counts per model."""
    await integration_for_admin(session, principal, integration_id)
    query = parse_list_query(request, set(ORDERABLE), default="started_at:desc")
    statement = select(*SyncRun.__table__.columns).where(SyncRun.integration_id == integration_id)
    rows, meta = await run_list(session, statement, query, ORDERABLE)
    return {
        "meta": meta,
        "results": [
            {
                "id": run.id,
                "job_id": run.job_id,
                "state": run.state,
                "counts": run.counts,
                "error": run.error,
                "started_at": isoformat_z(run.started_at),
                "finished_at": isoformat_z(run.finished_at),
            }
            for run in rows
        ],
    }
