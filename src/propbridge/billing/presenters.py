"""Propexo's ResidentCharge and ResidentPayment objects from our rows (every key present).

Presentation only; no queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.records import core_fields, model_fields
from propbridge.billing.models import ChargeCode, Fee, ResidentCharge, ResidentPayment

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


async def present_resident_charges(
    _session: AsyncSession, rows: Sequence[ResidentCharge]
) -> list[dict[str, Any]]:
    """ResidentCharge objects; credits are negative amounts."""
    return [
        {
            **core_fields(row),
            **model_fields(row, LEDGER_FIELDS + CHARGE_ONLY_FIELDS, ("allocations",)),
        }
        for row in rows
    ]


async def present_resident_payments(
    _session: AsyncSession, rows: Sequence[ResidentPayment]
) -> list[dict[str, Any]]:
    """ResidentPayment objects."""
    return [
        {
            **core_fields(row),
            **model_fields(row, LEDGER_FIELDS + PAYMENT_ONLY_FIELDS, ("allocations",)),
        }
        for row in rows
    ]


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
)


async def present_fees(_session: AsyncSession, rows: Sequence[Fee]) -> list[dict[str, Any]]:
    """Fee objects. propbridge syncs no floor plans or units, so their ids stay null; the PMS's
    floor plan id is in `x_floor_plan_id`, and `frequency` is our extension."""
    return [
        {
            **core_fields(row),
            **model_fields(row, FEE_FIELDS),
            "floor_plan_id": None,
            "unit_id": None,
            "frequency": row.frequency,
        }
        for row in rows
    ]


CHARGE_CODE_FIELDS = ("debit_gl_account", "credit_gl_account", "name", "description")


async def present_charge_codes(
    _session: AsyncSession, rows: Sequence[ChargeCode]
) -> list[dict[str, Any]]:
    """ChargeCode objects; `code` (the ResMan abbreviation) is our extension."""
    return [
        {**core_fields(row), **model_fields(row, CHARGE_CODE_FIELDS), "code": row.code}
        for row in rows
    ]
