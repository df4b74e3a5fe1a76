"""The billing models the sync copies from the PMS (entries of the synced-model registry)."""

from __future__ import annotations

from propbridge.billing.models import ChargeCode, Fee, ResidentCharge, ResidentPayment
from propbridge.billing.presenters import (
    render_charge_code,
    render_fee,
    render_resident_charge,
    render_resident_payment,
)
from propbridge.billing.repository import resolve_fee_links, resolve_ledger_links
from propbridge.sync.registry import SyncedModel

CHARGE_CODES = SyncedModel("charge_codes", ChargeCode, "charge_codes", render_charge_code)
RESIDENT_CHARGES = SyncedModel(
    "resident_charges",
    ResidentCharge,
    "transactions",
    render_resident_charge,
    resolve_ledger_links,
    reconciles=True,
)
RESIDENT_PAYMENTS = SyncedModel(
    "resident_payments",
    ResidentPayment,
    "transactions",
    render_resident_payment,
    resolve_ledger_links,
    reconciles=True,
)
FEES = SyncedModel("fees", Fee, "fees", render_fee, resolve_fee_links)
