"""Billing and Payments writes: the ResMan routes, the generic ones, write status and retries.

Thin: validation is in `schemas.py`, rules in `service.py`, recording in `write_recorder.py`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import current_principal, get_runtime, read_session, require_scope
from propbridge.api.errors import ApiError, bad_request, issue, not_found
from propbridge.api.records import bool_param
from propbridge.api.request_bodies import json_object_body
from propbridge.auth.service import Principal
from propbridge.billing.models import WriteItem, WriteRequest
from propbridge.billing.schemas import (
    ResidentChargeBatchCreate,
    ResidentChargeCreate,
    ResidentPaymentCreate,
)
from propbridge.billing.service import (
    AcceptedWrite,
    PendingWrite,
    Resolver,
    check_integration,
    resolve_charge_batch,
    resolve_resident_charge,
    resolve_resident_payment,
    write_to_retry,
)
from propbridge.billing.write_logs import write_logs
from propbridge.billing.write_recorder import WriteRecorder
from propbridge.billing.write_status import present_write_status
from propbridge.integrations.models import Integration
from propbridge.jobs.models import Job

router = APIRouter(tags=["billing-and-payments"])
writer = require_scope("write")


def _vendor_response(accepted: AcceptedWrite) -> JSONResponse:
    # A ready response: FastAPI then skips re-validating and re-encoding a dict it cannot type.
    return JSONResponse({"meta": {"job_id": accepted.job_id}, "result": accepted.body})


@router.post("/v1/resident-charges/resman/")
async def create_resident_charge_resman(
    body: ResidentChargeCreate, request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """Accept a charge for ResMan; answered once the request and its job are committed."""
    runtime = get_runtime(request)
    async with runtime.database.read_connection() as connection:
        pending = await resolve_resident_charge(connection, principal, body)
    accepted = await _record(request, pending)
    return _vendor_response(accepted)


@router.post("/v1/resident-payments/resman/")
async def create_resident_payment_resman(
    body: ResidentPaymentCreate, request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """Accept a payment for ResMan (`payment_type` becomes the MITS `Payment Type`)."""
    async with get_runtime(request).database.read_connection() as connection:
        pending = await resolve_resident_payment(connection, principal, body)
    return _vendor_response(await _record(request, pending))


@router.post("/v1/resident-charges/batch/resman/")
async def create_resident_charge_batch_resman(
    body: ResidentChargeBatchCreate, request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """Accept 1 to 1,000 charges of one property: one job, one MITS document."""
    async with get_runtime(request).database.read_connection() as connection:
        pending = await resolve_charge_batch(connection, principal, body)
    return _vendor_response(await _record(request, pending))


async def _record(request: Request, pending: PendingWrite) -> AcceptedWrite:
    """Commit the write and its job (group commit), then wake the worker."""
    recorder: WriteRecorder = request.app.state.write_recorder
    accepted = await recorder.record(pending)
    get_runtime(request).notify_job_enqueued()
    return accepted


@router.get("/v1/admin/write-status/{root_job_id}")
async def write_status(
    root_job_id: str, request: Request, session: AsyncSession = Depends(read_session)
) -> dict[str, Any]:
    """What became of a write; for keys with the write or admin scope."""
    principal = await current_principal(request)
    if not principal.scopes & {"write", "admin"}:
        raise ApiError(403, "forbidden", "This API key lacks the 'write' or 'admin' scope")
    row = (
        await session.execute(
            select(WriteRequest, Job.state, Job.last_error)
            .join(Job, Job.id == WriteRequest.job_id)
            .where(WriteRequest.job_id == root_job_id)
        )
    ).first()
    if row is None or not principal.may_use(row[0].integration_id):
        raise not_found(f"Job {root_job_id}")
    items = list(
        (
            await session.execute(select(WriteItem).where(WriteItem.write_request_id == row[0].id))
        ).scalars()
    )
    retried_by = (
        await session.execute(
            select(WriteRequest.job_id)
            .where(WriteRequest.retry_of == row[0].id)
            .order_by(WriteRequest.created_at.desc())
            .limit(1)
        )
    ).scalar()
    return present_write_status(row[0], row[1], row[2], items, retried_by)


# What each vendor's generic writes must look like and how they are checked (Propexo validates a
# generic body against the vendor's own rules).
GENERIC_WRITES: dict[tuple[str, str], tuple[type[BaseModel], Resolver]] = {
    ("RESMAN", "resident_charge"): (ResidentChargeCreate, resolve_resident_charge),
    ("RESMAN", "resident_payment"): (ResidentPaymentCreate, resolve_resident_payment),
}


async def _generic_write(request: Request, principal: Principal, operation: str) -> JSONResponse:
    """A generic write: find the integration's vendor, apply that vendor's rules, record it."""
    body = await json_object_body(request)
    ignore_unknown = bool_param(request, "ignore_unknown_fields") or False
    integration_id = body.get("integration_id")
    if not isinstance(integration_id, str) or not integration_id.strip():
        raise bad_request(
            "integration_id is required", [issue(["integration_id"], "Required string")]
        )
    async with get_runtime(request).database.read_connection() as connection:
        vendor = (
            await connection.execute(
                select(Integration.vendor).where(
                    Integration.id == integration_id, Integration.deleted_at.is_(None)
                )
            )
        ).scalar_one_or_none()
        check_integration(principal, integration_id, vendor, operation)
        assert vendor is not None
        rules = GENERIC_WRITES.get((vendor, operation))
        if rules is None:
            raise ApiError(
                405,
                "operation_not_supported",
                f"{vendor} does not support {operation.replace('_', ' ')}s",
            )
        schema, resolve = rules
        unknown = sorted(set(body) - set(schema.model_fields))
        if unknown and not ignore_unknown:
            raise bad_request(
                f"Fields not supported by {vendor}: {', '.join(unknown)}",
                [
                    issue(
                        [name],
                        f"Not supported by {vendor}; send ?ignore_unknown_fields=true to drop it",
                    )
                    for name in unknown
                ],
            )
        accepted_body = schema.model_validate({k: v for k, v in body.items() if k not in unknown})
        pending = await resolve(connection, principal, accepted_body)
    accepted = await _record(request, pending)
    return JSONResponse({"job_id": accepted.job_id, "data": accepted.body})


@router.post("/v1/resident-charges/")
async def create_resident_charge(
    request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """The vendor-agnostic charge write (`{"job_id", "data"}`)."""
    return await _generic_write(request, principal, "resident_charge")


@router.post("/v1/resident-payments/")
async def create_resident_payment(
    request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """The vendor-agnostic payment write (`{"job_id", "data"}`)."""
    return await _generic_write(request, principal, "resident_payment")


@router.post("/v1/admin/retry-write/{root_job_id}")
async def retry_write(root_job_id: str, request: Request) -> dict[str, Any]:
    """Send a failed write again as a new job (400 unless its write_status is FAILURE); while a
    retry of it is pending or succeeded, answer with that retry's job instead."""
    principal = await current_principal(request)
    if not principal.scopes & {"write", "admin"}:
        raise ApiError(403, "forbidden", "This API key lacks the 'write' or 'admin' scope")
    async with get_runtime(request).database.read() as session:
        retry = await write_to_retry(session, principal, root_job_id)
    if isinstance(retry, AcceptedWrite):
        return {"success": True, "job_id": retry.job_id}
    accepted = await _record(request, retry)
    return {"success": True, "job_id": accepted.job_id}


@router.get("/v1/admin/logs/writes/")
async def list_write_logs(
    request: Request,
    principal: Principal = Depends(require_scope("admin")),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Finished writes with their parameters and outcome (Propexo's write logs)."""
    return await write_logs(session, request, principal)
