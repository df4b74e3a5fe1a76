"""The write routes: ResMan's charge, payment and batch, the generic charge and payment, write
status, retry and logs.

Thin: parse, call the service (resolution on a read connection), hand the result to the recorder,
shape the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import (
    get_runtime,
    read_session,
    require_scope,
)
from propbridge.api.errors import bad_request, issue
from propbridge.api.listing import int_param
from propbridge.api.openapi import answers, body_read_by_hand
from propbridge.api.parameters import MAX_OFFSET, choice, documented, flag, paging, text
from propbridge.api.records import bool_param
from propbridge.api.request_bodies import json_object_body
from propbridge.auth.service import Principal
from propbridge.writes import service
from propbridge.writes.recorder import WriteRecorder
from propbridge.writes.rules import AcceptedWrite
from propbridge.writes.schemas import (
    BatchAccepted,
    ChargeAccepted,
    GenericChargeAccepted,
    GenericPaymentAccepted,
    PaymentAccepted,
    ResidentChargeBatchCreate,
    ResidentChargeCreate,
    ResidentPaymentCreate,
    Retried,
    WriteLogPage,
    WriteStatus,
)
from propbridge.writes.service import PendingWrite, Resolver

router = APIRouter(tags=["billing-and-payments"])
writer = require_scope("write")
# Write status and retries answer keys with either scope.
write_or_admin = require_scope("write", "admin")
IGNORE_UNKNOWN = flag(
    "ignore_unknown_fields",
    "Drop body fields the integration's PMS does not take instead of answering 400.",
)
LOG_LIMIT = 100
LOG_PARAMS = (
    *(param for param in paging((), max_limit=LOG_LIMIT) if param.name != "order-by"),
    text("integration_id", "Only writes to this integration."),
    choice("time_range", tuple(service.TIME_RANGES), "Only writes made within this span."),
    choice("status", service.LOG_STATUSES, "Only writes that ended so."),
    choice("write_category", tuple(service.CATEGORIES), "Only writes of this kind."),
)


def generic(model: type[BaseModel]) -> dict[str, Any]:
    """The documentation of a vendor-agnostic write: its body is the vendor's (ResMan's)."""
    return {**body_read_by_hand(model), **documented((IGNORE_UNKNOWN,))}


async def _record(request: Request, pending: PendingWrite) -> AcceptedWrite:
    """Commit the write and its job (group commit), then wake the worker."""
    recorder: WriteRecorder = request.app.state.write_recorder
    accepted = await recorder.record(pending)
    get_runtime(request).notify_job_enqueued()
    return accepted


async def _vendor_write(
    request: Request, resolve: Resolver, principal: Principal, body: Any
) -> JSONResponse:
    """Resolve a vendor route's write on a read connection, record it, answer with its job."""
    async with get_runtime(request).database.read_connection() as connection:
        pending = await resolve(connection, principal, body)
    accepted = await _record(request, pending)
    # A ready response: FastAPI then skips re-validating and re-encoding a dict it cannot type.
    return JSONResponse({"meta": {"job_id": accepted.job_id}, "result": accepted.body})


@router.post("/v1/resident-charges/resman/", **answers(ChargeAccepted, 405))
async def create_resident_charge_resman(
    body: ResidentChargeCreate, request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """Accept a charge for ResMan; answered once the request and its job are committed."""
    return await _vendor_write(request, service.resolve_resident_charge, principal, body)


@router.post("/v1/resident-payments/resman/", **answers(PaymentAccepted, 405))
async def create_resident_payment_resman(
    body: ResidentPaymentCreate, request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """Accept a payment for ResMan (`payment_type` becomes the MITS `Payment Type`)."""
    return await _vendor_write(request, service.resolve_resident_payment, principal, body)


@router.post("/v1/resident-charges/batch/resman/", **answers(BatchAccepted, 405))
async def create_resident_charge_batch_resman(
    body: ResidentChargeBatchCreate, request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """Accept 1 to 1,000 charges of one property: one job, one MITS document."""
    return await _vendor_write(request, service.resolve_charge_batch, principal, body)


async def _generic_write(request: Request, principal: Principal, operation: str) -> JSONResponse:
    body = await json_object_body(request)
    ignore_unknown = bool_param(request, "ignore_unknown_fields") or False
    async with get_runtime(request).database.read_connection() as connection:
        pending = await service.resolve_generic(
            connection, principal, operation, body, ignore_unknown
        )
    accepted = await _record(request, pending)
    return JSONResponse({"job_id": accepted.job_id, "data": accepted.body})


@router.post(
    "/v1/resident-charges/",
    **answers(GenericChargeAccepted, 405, **generic(ResidentChargeCreate)),
)
async def create_resident_charge(
    request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """The vendor-agnostic charge write (`{"job_id", "data"}`)."""
    return await _generic_write(request, principal, "resident_charge")


@router.post(
    "/v1/resident-payments/",
    **answers(GenericPaymentAccepted, 405, **generic(ResidentPaymentCreate)),
)
async def create_resident_payment(
    request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """The vendor-agnostic payment write (`{"job_id", "data"}`)."""
    return await _generic_write(request, principal, "resident_payment")


@router.get("/v1/admin/write-status/{root_job_id}", **answers(WriteStatus))
async def write_status(
    root_job_id: str,
    principal: Principal = Depends(write_or_admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """What became of a write; for keys with the write or admin scope."""
    return await service.write_status(session, principal, root_job_id)


@router.post("/v1/admin/retry-write/{root_job_id}", **answers(Retried))
async def retry_write(
    root_job_id: str, request: Request, principal: Principal = Depends(write_or_admin)
) -> dict[str, Any]:
    """Send a failed write again as a new job (400 unless its write_status is FAILURE); while a
    retry of it is pending or succeeded, answer with that retry's job instead."""
    async with get_runtime(request).database.read() as session:
        retry = await service.write_to_retry(session, principal, root_job_id)
    if isinstance(retry, PendingWrite):
        retry = await _record(request, retry)
    return {"success": True, "job_id": retry.job_id}


def _choice(request: Request, name: str, allowed: Iterable[str]) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in allowed:
        raise bad_request(
            f"Unknown {name} {value!r}", [issue([name], f"Expected one of {', '.join(allowed)}")]
        )
    return value


@router.get("/v1/admin/logs/writes/", **answers(WriteLogPage, **documented(LOG_PARAMS)))
async def list_write_logs(
    request: Request,
    principal: Principal = Depends(require_scope("admin")),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Finished writes with their parameters and outcome (Propexo's write logs)."""
    query = service.LogQuery(
        limit=int_param(request, "limit", LOG_LIMIT, 1, LOG_LIMIT),
        offset=int_param(request, "offset", 0, 0, MAX_OFFSET),
        integration_id=request.query_params.get("integration_id") or None,
        time_range=_choice(request, "time_range", service.TIME_RANGES),
        status=_choice(request, "status", service.LOG_STATUSES),
        write_category=_choice(request, "write_category", service.CATEGORIES),
    )
    return await service.write_logs(session, principal, query)
