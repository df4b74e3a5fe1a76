"""`/v1/properties/`, `/v1/residents/`, `/v1/leases/` and their by-ID routes (read scope).

Thin: filters are parsed here, presentation is in `presenters.py`.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import read_session, require_scope
from propbridge.api.errors import bad_request, issue
from propbridge.api.records import (
    bool_param,
    by_id_response,
    date_param,
    list_response,
    scoped_list,
)
from propbridge.auth.service import Principal
from propbridge.residents.models import Lease, Property, Resident, ResidentLease
from propbridge.residents.presenters import present_leases, present_properties, present_residents

router = APIRouter(prefix="/v1", tags=["residents"])
reader = require_scope("read")
PHONE = re.compile(r"^[2-9]\d{9}$")
LEASE_STATUSES = ("ACTIVE", "INACTIVE", "OTHER", "PENDING", "EVICTED")


@router.get("/properties/")
async def list_properties(
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Properties discovered by syncs."""
    statement = await scoped_list(session, request, Property, principal)
    is_active = bool_param(request, "is_active")
    if is_active is not None:
        statement = statement.where(Property.is_active.is_(is_active))
    return await list_response(request, session, Property, statement, present_properties)


@router.get("/properties/{property_id}")
async def get_property(
    property_id: str,
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One property."""
    return await by_id_response(
        request, session, Property, principal, property_id, present_properties, "Property"
    )


@router.get("/residents/")
async def list_residents(
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Residents (people on leases)."""
    params = request.query_params
    statement = await scoped_list(session, request, Resident, principal)
    if params.get("lease_id"):
        statement = statement.where(
            Resident.id.in_(
                select(ResidentLease.resident_id).where(
                    ResidentLease.lease_id == params["lease_id"]
                )
            )
        )
    if params.get("email_1"):
        statement = statement.where(Resident.email_1 == params["email_1"])
    if params.get("phone_1"):
        if not PHONE.match(params["phone_1"]):
            raise bad_request(
                "phone_1 must be 10 digits",
                [issue(["phone_1"], "Expected 10 digits, not starting with 0 or 1")],
            )
        statement = statement.where(Resident.phone_1 == params["phone_1"])
    return await list_response(request, session, Resident, statement, present_residents)


@router.get("/residents/{resident_id}")
async def get_resident(
    resident_id: str,
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One resident."""
    return await by_id_response(
        request, session, Resident, principal, resident_id, present_residents, "Resident"
    )


@router.get("/leases/")
async def list_leases(
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Leases, with Propexo's lease filters."""
    params = request.query_params
    statement = await scoped_list(session, request, Lease, principal)
    if params.get("resident_id"):
        statement = statement.where(
            Lease.id.in_(
                select(ResidentLease.lease_id).where(
                    ResidentLease.resident_id == params["resident_id"]
                )
            )
        )
    status = params.get("status_normalized")
    if status:
        if status not in LEASE_STATUSES:
            raise bad_request(
                "Unknown status_normalized",
                [issue(["status_normalized"], f"Expected one of {', '.join(LEASE_STATUSES)}")],
            )
        statement = statement.where(Lease.status_normalized == status)
    if params.get("status_raw"):
        statement = statement.where(Lease.status_raw == params["status_raw"])
    if params.get("unit_number"):
        if not params.get("property_id"):
            raise bad_request(
                "unit_number needs property_id",
                [issue(["unit_number"], "Give property_id with unit_number")],
            )
        statement = statement.where(Lease.unit_number == params["unit_number"])
    for name, column, op in (
        ("after_move_in_date", Lease.realized_move_in_date, "ge"),
        ("before_move_in_date", Lease.realized_move_in_date, "le"),
        ("after_move_out_date", Lease.realized_move_out_date, "ge"),
        ("before_move_out_date", Lease.realized_move_out_date, "le"),
    ):
        day = date_param(request, name)
        if day is not None:
            statement = statement.where(column >= day if op == "ge" else column <= day)
    if bool_param(request, "only_null_move_outs"):
        statement = statement.where(Lease.realized_move_out_date.is_(None))
    return await list_response(request, session, Lease, statement, present_leases)


@router.get("/leases/{lease_id}")
async def get_lease(
    lease_id: str,
    request: Request,
    principal: Principal = Depends(reader),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """One lease."""
    return await by_id_response(
        request, session, Lease, principal, lease_id, present_leases, "Lease"
    )
