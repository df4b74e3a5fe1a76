"""Billing and Payments routes: charge codes, resident charges and payments, fees (read),
resident-charge writes, write status.

Thin: validation is in `schemas.py`, rules in `service.py`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import current_principal, get_runtime, read_session, require_scope
from propbridge.api.errors import ApiError, not_found
from propbridge.api.listing import parse_timestamp
from propbridge.api.records import Filters, add_record_routes
from propbridge.auth.service import Principal
from propbridge.billing.models import (
    ChargeCode,
    Fee,
    ResidentCharge,
    ResidentPayment,
    WriteItem,
    WriteRequest,
)
from propbridge.billing.presenters import (
    render_charge_code,
    render_fee,
    render_resident_charge,
    render_resident_payment,
)
from propbridge.billing.schemas import ResidentChargeCreate
from propbridge.billing.service import AcceptedWrite, PendingWrite, resolve_resident_charge
from propbridge.billing.write_recorder import WriteRecorder
from propbridge.billing.write_status import present_write_status
from propbridge.jobs.models import Job

router = APIRouter(tags=["billing-and-payments"])
writer = require_scope("write")


def _ledger_filters(model: Any) -> Filters:
    """Propexo's ledger filters: resident, lease and an inclusive transaction-date range."""

    def apply(request: Request, statement: Select[Any]) -> Select[Any]:
        params = request.query_params
        if params.get("resident_id"):
            statement = statement.where(model.resident_id == params["resident_id"])
        if params.get("lease_id"):
            statement = statement.where(model.lease_id == params["lease_id"])
        for name, op in (("transaction_date_start", "ge"), ("transaction_date_end", "le")):
            if parse_timestamp(request, name) is not None:
                day = params[name][:10]
                statement = statement.where(
                    model.transaction_date >= day if op == "ge" else model.transaction_date <= day
                )
        return statement

    return apply


def _fee_filters(request: Request, statement: Select[Any]) -> Select[Any]:
    """`charge_code_id`, `floor_plan_id`, `unit_id`, and `x_floor_plan_id` (ours)."""
    params = request.query_params
    if params.get("charge_code_id"):
        statement = statement.where(Fee.charge_code_id == params["charge_code_id"])
    if params.get("x_floor_plan_id"):
        statement = statement.where(Fee.x_floor_plan_id == params["x_floor_plan_id"])
    if params.get("floor_plan_id"):
        statement = statement.where(Fee.floor_plan_id == params["floor_plan_id"])
    if params.get("unit_id"):
        # ResMan's fee schedule has no per-unit fees, so no fee carries a unit id.
        statement = statement.where(false())
    return statement


add_record_routes(
    router, "/v1/charge-codes/", ChargeCode, render_charge_code, "Charge code", "charge_code_id"
)
add_record_routes(
    router,
    "/v1/resident-charges/",
    ResidentCharge,
    render_resident_charge,
    "Resident charge",
    "resident_charge_id",
    _ledger_filters(ResidentCharge),
)
add_record_routes(
    router,
    "/v1/resident-payments/",
    ResidentPayment,
    render_resident_payment,
    "Resident payment",
    "resident_payment_id",
    _ledger_filters(ResidentPayment),
)
add_record_routes(router, "/v1/fees/", Fee, render_fee, "Fee", "fee_id", _fee_filters)


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
    return present_write_status(row[0], row[1], row[2], items)
