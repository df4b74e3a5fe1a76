"""Billing and Payments routes: charge codes (read), resident charges (write), write status.

Thin: validation is in `schemas.py`, rules in `service.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import current_principal, get_runtime, read_session, require_scope
from propbridge.api.errors import ApiError, not_found
from propbridge.api.listing import parse_timestamp
from propbridge.api.records import (
    by_id_response,
    core_fields,
    list_response,
    model_fields,
    scoped_list,
)
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
    present_fees,
    present_resident_charges,
    present_resident_payments,
)
from propbridge.billing.schemas import ResidentChargeCreate
from propbridge.billing.service import AcceptedWrite, PendingWrite, resolve_resident_charge
from propbridge.billing.write_recorder import WriteRecorder
from propbridge.billing.write_status import present_write_status
from propbridge.jobs.models import Job

router = APIRouter(tags=["billing-and-payments"])
reader = require_scope("read")
writer = require_scope("write")
CHARGE_CODE_FIELDS = ("debit_gl_account", "credit_gl_account", "name", "description")


async def present_charge_codes(
    _session: AsyncSession, rows: Sequence[ChargeCode]
) -> list[dict[str, Any]]:
    """ChargeCode objects; `code` (the ResMan abbreviation) is our extension."""
    return [
        {**core_fields(row), **model_fields(row, CHARGE_CODE_FIELDS), "code": row.code}
        for row in rows
    ]


@router.get("/v1/charge-codes/")
async def list_charge_codes(
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Charge codes (ResMan transaction categories, per property)."""
    statement = await scoped_list(session, request, ChargeCode, principal)
    return await list_response(request, session, ChargeCode, statement, present_charge_codes)


@router.get("/v1/charge-codes/{charge_code_id}")
async def get_charge_code(
    charge_code_id: str,
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One charge code."""
    return await by_id_response(
        request, session, ChargeCode, principal, charge_code_id, present_charge_codes, "Charge code"
    )


def _ledger_filters(request: Request, model: Any, statement: Select[Any]) -> Select[Any]:
    """Propexo's ledger filters: resident, lease and an inclusive transaction-date range."""
    params = request.query_params
    if params.get("resident_id"):
        statement = statement.where(model.resident_id == params["resident_id"])
    if params.get("lease_id"):
        statement = statement.where(model.lease_id == params["lease_id"])
    for name, op in (("transaction_date_start", "ge"), ("transaction_date_end", "le")):
        moment = parse_timestamp(request, name)
        if moment is not None:
            day = request.query_params[name][:10]
            statement = statement.where(
                model.transaction_date >= day if op == "ge" else model.transaction_date <= day
            )
    return statement


@router.get("/v1/resident-charges/")
async def list_resident_charges(
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Resident charges (credits as negative charges), from the last syncs."""
    statement = await scoped_list(session, request, ResidentCharge, principal)
    statement = _ledger_filters(request, ResidentCharge, statement)
    return await list_response(
        request, session, ResidentCharge, statement, present_resident_charges
    )


@router.get("/v1/resident-charges/{resident_charge_id}")
async def get_resident_charge(
    resident_charge_id: str,
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One resident charge."""
    return await by_id_response(
        request,
        session,
        ResidentCharge,
        principal,
        resident_charge_id,
        present_resident_charges,
        "Resident charge",
    )


@router.get("/v1/resident-payments/")
async def list_resident_payments(
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Resident payments, from the last syncs."""
    statement = await scoped_list(session, request, ResidentPayment, principal)
    statement = _ledger_filters(request, ResidentPayment, statement)
    return await list_response(
        request, session, ResidentPayment, statement, present_resident_payments
    )


@router.get("/v1/resident-payments/{resident_payment_id}")
async def get_resident_payment(
    resident_payment_id: str,
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One resident payment."""
    return await by_id_response(
        request,
        session,
        ResidentPayment,
        principal,
        resident_payment_id,
        present_resident_payments,
        "Resident payment",
    )


@router.get("/v1/fees/")
async def list_fees(
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Fee schedules of the properties (ResMan marketing data)."""
    params = request.query_params
    statement = await scoped_list(session, request, Fee, principal)
    if params.get("charge_code_id"):
        statement = statement.where(Fee.charge_code_id == params["charge_code_id"])
    if params.get("x_floor_plan_id"):
        statement = statement.where(Fee.x_floor_plan_id == params["x_floor_plan_id"])
    if params.get("floor_plan_id") or params.get("unit_id"):
        # Floor plans and units are not synced, so no fee carries their propbridge ids.
        statement = statement.where(false())
    return await list_response(request, session, Fee, statement, present_fees)


@router.get("/v1/fees/{fee_id}")
async def get_fee(
    fee_id: str,
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One fee."""
    return await by_id_response(request, session, Fee, principal, fee_id, present_fees, "Fee")


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
