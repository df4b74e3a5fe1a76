"""`GET /v1/admin/logs/writes/`: finished writes, newest first, with Propexo's filters.

Queries and their presentation; writes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import case, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from propbridge.api.errors import bad_request, issue
from propbridge.api.listing import MAX_OFFSET, count_rows, int_param, refuse_unknown_params
from propbridge.auth.service import Principal
from propbridge.billing.models import WriteItem, WriteRequest
from propbridge.db.base import isoformat_z, utcnow
from propbridge.integrations.models import Integration
from propbridge.jobs.models import Job

TIME_RANGES = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=31),
}
# Propexo's write categories, and which of our operations fall in each.
CATEGORIES = {
    "resident_charges": ("resident_charge", "resident_charge_batch"),
    "resident_payments": ("resident_payment",),
}
JOB_TYPES = {
    "resident_charge": ("WRITE_RESIDENT_CHARGE", "Create resident charge"),
    "resident_payment": ("WRITE_RESIDENT_PAYMENT", "Create resident payment"),
    "resident_charge_batch": ("WRITE_RESIDENT_CHARGE_BATCH", "Create resident charges (batch)"),
}
# A write failed when its job failed or any of its transactions did not go through.
FAILED = exists().where(
    WriteItem.write_request_id == WriteRequest.id,
    WriteItem.status.in_(("REJECTED", "OUTCOME_UNKNOWN", "PENDING")),
)
STATUS = case((Job.state == "failed", "FAILURE"), (FAILED, "FAILURE"), else_="SUCCESS")
RETRY = aliased(WriteRequest)
# The job of a write's latest retry, if it was retried.
RETRIED_BY = (
    select(RETRY.job_id)
    .where(RETRY.retry_of == WriteRequest.id)
    .order_by(RETRY.created_at.desc())
    .limit(1)
    .scalar_subquery()
)


def _choice(request: Request, name: str, allowed: Any) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in allowed:
        raise bad_request(
            f"Unknown {name} {value!r}", [issue([name], f"Expected one of {', '.join(allowed)}")]
        )
    return value


async def write_logs(
    session: AsyncSession, request: Request, principal: Principal
) -> dict[str, Any]:
    """The latest state of each finished write the principal may see."""
    refuse_unknown_params(request, ("time_range", "status", "write_category", "integration_id"))
    limit = int_param(request, "limit", 100, 1, 100)
    offset = int_param(request, "offset", 0, 0, MAX_OFFSET)
    time_range = _choice(request, "time_range", TIME_RANGES)
    status = _choice(request, "status", ("SUCCESS", "FAILURE"))
    category = _choice(request, "write_category", CATEGORIES)
    statement = (
        select(
            WriteRequest,
            Job.state,
            Job.last_error,
            Integration.vendor,
            STATUS.label("status"),
            RETRIED_BY.label("retried_by"),
        )
        .join(Job, Job.id == WriteRequest.job_id)
        .join(Integration, Integration.id == WriteRequest.integration_id)
        .where(Job.state.in_(("succeeded", "failed")))
    )
    if principal.integration_ids is not None:
        statement = statement.where(WriteRequest.integration_id.in_(principal.integration_ids))
    integration_id = request.query_params.get("integration_id")
    if integration_id:
        statement = statement.where(WriteRequest.integration_id == integration_id)
    if time_range:
        statement = statement.where(WriteRequest.created_at >= utcnow() - TIME_RANGES[time_range])
    if status:
        statement = statement.where(STATUS.in_([status]))
    if category:
        statement = statement.where(WriteRequest.operation.in_(CATEGORIES[category]))
    total = await count_rows(session, statement)
    rows = await session.execute(
        statement.order_by(WriteRequest.created_at.desc(), WriteRequest.id.desc())
        .offset(offset)
        .limit(limit)
    )
    logs = []
    for write, _state, job_error, vendor, row_status, retried_by in rows:
        job_type, name = JOB_TYPES.get(write.operation, (write.operation.upper(), write.operation))
        error = None
        if row_status == "FAILURE":
            error = "; ".join(write.errors) if write.errors else job_error or "failed"
        logs.append(
            {
                "id": write.id,
                "created_at": isoformat_z(write.created_at),
                "job_id": write.job_id,
                "job_log_id": write.job_id,
                "status": row_status,
                "integration_id": write.integration_id,
                "job_type": job_type,
                "parameters": write.request_body,
                "error": error,
                "name": f"{name} ({vendor})",
                "vendor": vendor,
                "retry_of": write.retry_of,
                "retried_by": retried_by,
            }
        )
    return {
        "results": {"logs": logs},
        "meta": {
            "offset": offset,
            "limit": limit,
            "total": total,
            "hasMore": offset + len(logs) < total,
        },
    }
