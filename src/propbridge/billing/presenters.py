"""Propexo's ResidentCharge and ResidentPayment objects from our rows (every key present).

Presentation only, from a record's column values: no queries, so the objects can be rendered
once at sync time and stored (see `render_document` in `db/synced.py`).
"""

from __future__ import annotations

from typing import Any

from propbridge.db.synced import Fields, core_fields, model_fields

LEDGER_FIELDS = (
    "x_gl_account_id",
    "x_lease_id",
    "x_resident_id",
    "x_unit_id",
    "x_charge_code_id",
    "amount_in_cents",
    "amount_raw",
    "name",
    "description",
    "reference_number",
    "transaction_date",
    "is_open",
    "post_month",
    "resident_id",
    "financial_account_id",
    "unit_id",
    "lease_id",
    "charge_code_id",
)
CHARGE_ONLY_FIELDS = (
    "amount_open_in_cents",
    "amount_open_raw",
    "amount_paid_in_cents",
    "amount_paid_raw",
    "due_date",
    "transaction_source",
)
PAYMENT_ONLY_FIELDS = ("payment_method_normalized", "payment_method_raw")


def render_resident_charge(values: Fields) -> dict[str, Any]:
    """A ResidentCharge object; credits are negative amounts; `reversed_date` is ours."""
    return {
        **core_fields(values),
        **model_fields(values, LEDGER_FIELDS + CHARGE_ONLY_FIELDS, ("allocations",)),
        "reversed_date": values.get("reversed_date"),
    }


def render_resident_payment(values: Fields) -> dict[str, Any]:
    """A ResidentPayment object; `reversed_date` (a bounced payment) is ours."""
    return {
        **core_fields(values),
        **model_fields(values, LEDGER_FIELDS + PAYMENT_ONLY_FIELDS, ("allocations",)),
        "reversed_date": values.get("reversed_date"),
    }


FEE_FIELDS = (
    "x_charge_code_id",
    "x_floor_plan_id",
    "x_unit_id",
    "amount_in_cents",
    "amount_raw",
    "charge_code_name",
    "description",
    "name",
    "charge_code_id",
    "floor_plan_id",
    "unit_id",
)


def render_fee(values: Fields) -> dict[str, Any]:
    """A Fee object. ResMan's fee schedule is per property or per floor plan, never per unit,
    so `unit_id` stays null; `frequency` is our extension."""
    return {
        **model_fields(values, FEE_FIELDS),
        **core_fields(values),
        "frequency": values.get("frequency"),
    }


CHARGE_CODE_FIELDS = ("debit_gl_account", "credit_gl_account", "name", "description")


def render_charge_code(values: Fields) -> dict[str, Any]:
    """A ChargeCode object; `code` (the ResMan abbreviation) and `category_type` (ResMan's
    Charge, Credit, Payment or Deposit: only a Charge one can be charged) are ours."""
    return {
        **core_fields(values),
        **model_fields(values, CHARGE_CODE_FIELDS),
        "code": values.get("code"),
        "category_type": values.get("category_type"),
    }
