"""`/v1/properties/`, `/v1/residents/`, `/v1/leases/` and their by-ID routes (read scope).

Thin: the routes come from `add_record_routes`; here are only each model's own filters.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from propbridge.api.errors import bad_request, issue
from propbridge.api.parameters import QueryParam, choice, day, flag, text
from propbridge.api.record_schema import EMPTY_LIST, record_schema
from propbridge.api.records import RecordView, add_record_routes, bool_param, date_param
from propbridge.db.raw_reads import RecordQuery
from propbridge.residents import repository
from propbridge.residents.models import Lease, Property, Resident
from propbridge.residents.presenters import (
    LEASE_FIELDS,
    PROPERTY_FIELDS,
    RESIDENT_FIELDS,
    present_leases,
    present_residents,
    render_property,
)

router = APIRouter(prefix="/v1", tags=["residents"])
PHONE = re.compile(r"^[2-9]\d{9}$")
LEASE_STATUSES = ("ACTIVE", "INACTIVE", "OTHER", "PENDING", "EVICTED")


def property_filters(request: Request, query: RecordQuery) -> None:
    """`is_active`."""
    is_active = bool_param(request, "is_active")
    if is_active is not None:
        query.equal(Property.is_active, is_active)


def resident_filters(request: Request, query: RecordQuery) -> None:
    """`lease_id`, `email_1`, `phone_1` (ten digits)."""
    params = request.query_params
    if params.get("lease_id"):
        repository.residents_of(query, params["lease_id"])
    if params.get("email_1"):
        query.equal(Resident.email_1, params["email_1"])
    if params.get("phone_1"):
        if not PHONE.match(params["phone_1"]):
            raise bad_request(
                "phone_1 must be 10 digits",
                [issue(["phone_1"], "Expected 10 digits, not starting with 0 or 1")],
            )
        query.equal(Resident.phone_1, params["phone_1"])


def lease_filters(request: Request, query: RecordQuery) -> None:
    """Propexo's lease filters: resident, statuses, unit number, move dates."""
    params = request.query_params
    if params.get("resident_id"):
        repository.leases_of(query, params["resident_id"])
    if params.get("unit_id"):
        query.equal(Lease.unit_id, params["unit_id"])
    if params.get("x_unit_id"):
        query.equal(Lease.x_unit_id, params["x_unit_id"])
    status = params.get("status_normalized")
    if status:
        if status not in LEASE_STATUSES:
            raise bad_request(
                "Unknown status_normalized",
                [issue(["status_normalized"], f"Expected one of {', '.join(LEASE_STATUSES)}")],
            )
        query.equal(Lease.status_normalized, status)
    if params.get("status_raw"):
        query.equal(Lease.status_raw, params["status_raw"])
    if params.get("unit_number"):
        if not params.get("property_id"):
            raise bad_request(
                "unit_number needs property_id",
                [issue(["unit_number"], "Give property_id with unit_number")],
            )
        query.equal(Lease.unit_number, params["unit_number"])
    for name, column, op in (
        ("after_move_in_date", Lease.realized_move_in_date, "ge"),
        ("before_move_in_date", Lease.realized_move_in_date, "le"),
        ("after_move_out_date", Lease.realized_move_out_date, "ge"),
        ("before_move_out_date", Lease.realized_move_out_date, "le"),
    ):
        day = date_param(request, name)
        if day is not None:
            (query.at_least if op == "ge" else query.at_most)(column, day)
    if bool_param(request, "only_null_move_outs"):
        query.null(Lease.realized_move_out_date)


DAY = {"type": ["string", "null"], "format": "date"}
PHONE_TYPE = {"type": "string", "enum": ["FAX", "HOME", "MOBILE", "OTHER", "WORK"]}


def _link(other: str) -> dict[str, Any]:
    """One entry of `leases_meta_data` / `residents_meta_data`: how a resident is on a lease."""
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                other: {"type": "string"},
                "x_resident_type": {"type": ["string", "null"]},
                "resident_type_normalized": {"type": ["string", "null"]},
                "move_in_date": DAY,
                "move_out_date": DAY,
                "notice_date": DAY,
                "custom_data": {"type": "null"},
            },
            "required": [
                other,
                "x_resident_type",
                "resident_type_normalized",
                "move_in_date",
                "move_out_date",
                "notice_date",
                "custom_data",
            ],
            "additionalProperties": False,
        },
    }


PROPERTY_SCHEMA = record_schema(
    Property,
    (*PROPERTY_FIELDS, "office_hours", "pet_types", "associated_owner_ids"),
    {
        "manager_phone_1_type": PHONE_TYPE,
        "manager_phone_2_type": PHONE_TYPE,
        "type": {"type": ["string", "null"]},
        "street_address_1": {"type": ["string", "null"]},
        "street_address_2": {"type": ["string", "null"]},
        "office_hours": EMPTY_LIST,
        "pet_types": EMPTY_LIST,
        "associated_owner_ids": EMPTY_LIST,
    },
    extensions=("x_location_id",),
)
RESIDENT_SCHEMA = record_schema(
    Resident,
    (*RESIDENT_FIELDS, "pets", "vehicles", "leases_meta_data"),
    {
        "phone_1_type": PHONE_TYPE,
        "phone_2_type": PHONE_TYPE,
        "pets": EMPTY_LIST,
        "vehicles": EMPTY_LIST,
        "leases_meta_data": _link("lease_id"),
    },
    extensions=("x_location_id", "x_property_id"),
)
LEASE_SCHEMA = record_schema(
    Lease,
    (*LEASE_FIELDS, "services", "residents_meta_data"),
    {
        **{
            name: DAY
            for name in LEASE_FIELDS
            if name.endswith("_date") and name not in ("deposit_date", "rent_due_date")
        },
        "status": {
            "type": ["string", "null"],
            "description": "The PMS's own status (`status_raw`).",
        },
        "status_normalized": {"type": ["string", "null"], "enum": [*LEASE_STATUSES, None]},
        "services": EMPTY_LIST,
        "residents_meta_data": _link("resident_id"),
    },
    extensions=("x_location_id",),
)

add_record_routes(
    router,
    "/properties/",
    Property,
    render_property,
    "Property",
    "id",
    PROPERTY_SCHEMA,
    property_filters,
    (flag("is_active", "Only active (true) or inactive (false) properties."),),
)
add_record_routes(
    router,
    "/residents/",
    Resident,
    RecordView(present=present_residents),
    "Resident",
    "id",
    RESIDENT_SCHEMA,
    resident_filters,
    (
        text("lease_id", "Only residents on this lease."),
        text("email_1", "Only residents with this email address."),
        QueryParam(
            "phone_1",
            {"type": "string", "pattern": PHONE.pattern, "examples": ["2125550123"]},
            "Only residents with this phone number: ten digits, not starting with 0 or 1.",
        ),
    ),
)
add_record_routes(
    router,
    "/leases/",
    Lease,
    RecordView(present=present_leases),
    "Lease",
    "lease_id",
    LEASE_SCHEMA,
    lease_filters,
    (
        text("resident_id", "Only leases this resident is on."),
        text("unit_id", "Only leases of this unit."),
        text("x_unit_id", "Only leases of the unit with this id in the PMS."),
        choice("status_normalized", LEASE_STATUSES, "Only leases in this state."),
        text("status_raw", "Only leases with this status in the PMS's own words."),
        text("unit_number", "Only leases of this unit number (give `property_id` too)."),
        day("after_move_in_date", "Only leases moved into on or after this day."),
        day("before_move_in_date", "Only leases moved into on or before this day."),
        day("after_move_out_date", "Only leases moved out of on or after this day."),
        day("before_move_out_date", "Only leases moved out of on or before this day."),
        flag("only_null_move_outs", "Only leases not moved out of (when true)."),
    ),
)
