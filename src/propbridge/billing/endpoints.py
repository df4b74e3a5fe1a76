"""Billing and Payments reads: charge codes, resident charges and payments, fees.

Thin: the routes come from `add_record_routes`; here are only each model's own filters.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from propbridge.api.errors import bad_request, issue
from propbridge.api.listing import parse_timestamp
from propbridge.api.parameters import QueryParam, flag, moment, text
from propbridge.api.record_schema import EMPTY_LIST, NULL, record_schema
from propbridge.api.records import Filters, add_record_routes, bool_param
from propbridge.billing.models import ChargeCode, Fee, ResidentCharge, ResidentPayment
from propbridge.billing.presenters import (
    CHARGE_CODE_FIELDS,
    CHARGE_ONLY_FIELDS,
    FEE_FIELDS,
    LEDGER_FIELDS,
    PAYMENT_ONLY_FIELDS,
    render_charge_code,
    render_fee,
    render_resident_charge,
    render_resident_payment,
)
from propbridge.db.raw_reads import RecordQuery

router = APIRouter(tags=["billing-and-payments"])


def _ledger_filters(model: Any) -> Filters:
    """Propexo's ledger filters: resident, lease and an inclusive transaction-date range; and
    ours, `include_reversed` (a reversed transaction is not live: left out unless asked)."""

    def apply(request: Request, query: RecordQuery) -> None:
        params = request.query_params
        if not bool_param(request, "include_reversed"):
            query.null(model.reversed_date)
        if params.get("resident_id"):
            query.equal(model.resident_id, params["resident_id"])
        if params.get("lease_id"):
            query.equal(model.lease_id, params["lease_id"])
        if parse_timestamp(request, "transaction_date_start") is not None:
            query.at_least(model.transaction_date, params["transaction_date_start"][:10])
        if parse_timestamp(request, "transaction_date_end") is not None:
            query.at_most(model.transaction_date, params["transaction_date_end"][:10])

    return apply


CATEGORY_TYPES = ("Charge", "Credit", "Payment", "Deposit")
LEDGER_PARAMS = (
    text("resident_id", "Only transactions of this resident."),
    text("lease_id", "Only transactions of this lease."),
    moment("transaction_date_start", "Only transactions dated on or after this day."),
    moment("transaction_date_end", "Only transactions dated on or before this day."),
    flag(
        "include_reversed",
        "Also list reversed transactions (a voided charge, a bounced payment); by default "
        "only live ones are listed.",
        extension=True,
    ),
)
DAY = {"type": ["string", "null"], "format": "date"}
REVERSED = {
    **DAY,
    "description": "The day the PMS reversed this transaction; null while it stands.",
}
LEDGER_TYPES = {"transaction_date": DAY, "allocations": EMPTY_LIST, "reversed_date": REVERSED}


def _charge_code_filters(request: Request, query: RecordQuery) -> None:
    """`category_type` (ours): ResMan's Charge, Credit, Payment or Deposit, comma-separated."""
    raw = request.query_params.get("category_type")
    if not raw:
        return
    wanted = [part.strip() for part in raw.split(",") if part.strip()]
    wrong = [part for part in wanted if part not in CATEGORY_TYPES]
    if wrong or not wanted:
        raise bad_request(
            "Unknown category_type",
            [issue(["category_type"], f"Expected one or more of {', '.join(CATEGORY_TYPES)}")],
        )
    query.one_of(ChargeCode.category_type, wanted)


def _fee_filters(request: Request, query: RecordQuery) -> None:
    """`charge_code_id`, `floor_plan_id`, `unit_id`, and `x_floor_plan_id` (ours)."""
    params = request.query_params
    if params.get("charge_code_id"):
        query.equal(Fee.charge_code_id, params["charge_code_id"])
    if params.get("x_floor_plan_id"):
        query.equal(Fee.x_floor_plan_id, params["x_floor_plan_id"])
    if params.get("floor_plan_id"):
        query.equal(Fee.floor_plan_id, params["floor_plan_id"])
    if params.get("unit_id"):
        # ResMan's fee schedule has no per-unit fees, so no fee carries a unit id.
        query.nothing()


add_record_routes(
    router,
    "/v1/charge-codes/",
    ChargeCode,
    render_charge_code,
    "Charge code",
    "charge_code_id",
    record_schema(
        ChargeCode,
        (*CHARGE_CODE_FIELDS, "code", "category_type"),
        {
            "code": {"type": ["string", "null"], "description": "ResMan's abbreviation."},
            "category_type": {
                "type": ["string", "null"],
                "enum": [*CATEGORY_TYPES, None],
                "description": "ResMan's category: only a Charge code can be charged.",
            },
        },
        extensions=("code", "category_type"),
    ),
    _charge_code_filters,
    (
        QueryParam(
            "category_type",
            {
                "type": "string",
                "pattern": f"^({'|'.join(CATEGORY_TYPES)})(,({'|'.join(CATEGORY_TYPES)}))*$",
                "examples": ["Charge", "Charge,Credit"],
            },
            "Only codes of these ResMan categories, comma-separated.",
            extension=True,
        ),
    ),
)
add_record_routes(
    router,
    "/v1/resident-charges/",
    ResidentCharge,
    render_resident_charge,
    "Resident charge",
    "resident_charge_id",
    record_schema(
        ResidentCharge,
        (*LEDGER_FIELDS, *CHARGE_ONLY_FIELDS, "allocations", "reversed_date"),
        {**LEDGER_TYPES, "due_date": DAY},
        extensions=("reversed_date",),
        description="A charge on a resident's ledger; a credit is a negative amount.",
    ),
    _ledger_filters(ResidentCharge),
    LEDGER_PARAMS,
)
add_record_routes(
    router,
    "/v1/resident-payments/",
    ResidentPayment,
    render_resident_payment,
    "Resident payment",
    "resident_payment_id",
    record_schema(
        ResidentPayment,
        (*LEDGER_FIELDS, *PAYMENT_ONLY_FIELDS, "allocations", "reversed_date"),
        LEDGER_TYPES,
        extensions=("reversed_date",),
    ),
    _ledger_filters(ResidentPayment),
    LEDGER_PARAMS,
)
add_record_routes(
    router,
    "/v1/fees/",
    Fee,
    render_fee,
    "Fee",
    "fee_id",
    record_schema(
        Fee,
        (*FEE_FIELDS, "frequency"),
        {"unit_id": NULL, "frequency": {"type": ["string", "null"]}},
        extensions=("frequency",),
    ),
    _fee_filters,
    (
        text("charge_code_id", "Only fees of this charge code."),
        text("floor_plan_id", "Only fees of this floor plan."),
        text("x_floor_plan_id", "Only fees of the floor plan with this code in ResMan.", True),
        text("unit_id", "Only fees of this unit (ResMan has none: always an empty list)."),
    ),
)
