"""The synced models of this build of propbridge, listed once, in upsert order (within a page,
parents before children, so that links resolve).

Composition, beside `schema.py` and `handlers.py`: the runtime hands this list to the sync, the
integrations and the webhooks; adding a model is one entry here plus its domain's mapping.
"""

from __future__ import annotations

from propbridge.billing.synced import CHARGE_CODES, FEES, RESIDENT_CHARGES, RESIDENT_PAYMENTS
from propbridge.residents.synced import LEASES, PROPERTIES, RESIDENTS
from propbridge.sync.registry import SyncedModels
from propbridge.units.synced import FLOOR_PLANS, UNITS

SYNCED_MODELS = SyncedModels(
    (
        PROPERTIES,
        CHARGE_CODES,
        FLOOR_PLANS,
        UNITS,
        LEASES,
        RESIDENTS,
        RESIDENT_CHARGES,
        RESIDENT_PAYMENTS,
        FEES,
    )
)
