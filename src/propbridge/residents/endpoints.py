"""`/v1/properties/`, `/v1/residents/`, `/v1/leases/` and their by-ID routes (read scope).

Thin: the routes come from `add_record_routes`; here are only each model's own filters.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Select

from propbridge.api.errors import bad_request, issue
from propbridge.api.records import RecordView, add_record_routes, bool_param, date_param
from propbridge.residents import repository
from propbridge.residents.models import Lease, Property, Resident
from propbridge.residents.presenters import present_leases, present_residents, render_property

router = APIRouter(prefix="/v1", tags=["residents"])
PHONE = re.compile(r"^[2-9]\d{9}$")
LEASE_STATUSES = ("ACTIVE", "INACTIVE", "OTHER", "PENDING", "EVICTED")


def property_filters(request: Request, statement: Select[Any]) -> Select[Any]:
    """`is_active`."""
    is_active = bool_param(request, "is_active")
    return statement if is_active is None else statement.where(Property.is_active.is_(is_active))


def resident_filters(request: Request, statement: Select[Any]) -> Select[Any]:
    """`lease_id`, `email_1`, `phone_1` (ten digits)."""
    params = request.query_params
    if params.get("lease_id"):
        statement = statement.where(Resident.id.in_(repository.residents_of(params["lease_id"])))
    if params.get("email_1"):
        statement = statement.where(Resident.email_1 == params["email_1"])
    if params.get("phone_1"):
        if not PHONE.match(params["phone_1"]):
            raise bad_request(
                "phone_1 must be 10 digits",
                [issue(["phone_1"], "Expected 10 digits, not starting with 0 or 1")],
            )
        statement = statement.where(Resident.phone_1 == params["phone_1"])
    return statement


def lease_filters(request: Request, statement: Select[Any]) -> Select[Any]:
    """Propexo's lease filters: resident, statuses, unit number, move dates."""
    params = request.query_params
    if params.get("resident_id"):
        statement = statement.where(Lease.id.in_(repository.leases_of(params["resident_id"])))
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
    return statement


add_record_routes(
    router,
    "/properties/",
    Property,
    render_property,
    "Property",
    "id",
    property_filters,
    ("is_active",),
)
add_record_routes(
    router,
    "/residents/",
    Resident,
    RecordView(present=present_residents),
    "Resident",
    "id",
    resident_filters,
    ("lease_id", "email_1", "phone_1"),
)
add_record_routes(
    router,
    "/leases/",
    Lease,
    RecordView(present=present_leases),
    "Lease",
    "lease_id",
    lease_filters,
    (
        "resident_id",
        "status_normalized",
        "status_raw",
        "unit_number",
        "after_move_in_date",
        "before_move_in_date",
        "after_move_out_date",
        "before_move_out_date",
        "only_null_move_outs",
    ),
)
