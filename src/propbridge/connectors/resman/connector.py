"""The ResMan connector: what propbridge syncs from ResMan and how it posts to it.

Joins the clients, the MITS builder and the mapping; holds no database access.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx

from propbridge import clock
from propbridge.connectors.base import (
    IntegrationAccess,
    RecordData,
    RejectedError,
    TransactionToPost,
)
from propbridge.connectors.resman.clients import ResManV1Client, ResManV2Client
from propbridge.connectors.resman.mapping import (
    map_account_transactions,
    map_charge_code,
    map_fees,
    map_floor_plans,
    map_lease,
    map_property,
    map_residents,
    map_units,
)
from propbridge.connectors.resman.mits import build_resident_transactions, document_order

# ResMan's v2 rejects a modifiedSince more than 364 days back; keep a margin for clock skew.
V2_LOOKBACK = timedelta(days=364) - timedelta(hours=1)
POST_METHOD = "MITS/PostResidentTransactions2_0"
MARKETING_METHOD = "MITS/GetMarketing4_0"
UNITS_METHOD = "Property/GetUnits"
CHARGE_CODE_TYPES = "Charge,Credit"


def rfc1123(moment: datetime) -> str:
    """The way ResMan's own clients send timestamps in query strings."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class ResManConnector:
    """ResMan behind propbridge's connector interface."""

    vendor = "RESMAN"
    # Feeds in dependency order: each one's links point at records of the feeds before it.
    sync_models: tuple[str, ...] = (
        "properties",
        "charge_codes",
        "floor_plans",
        "units",
        "leases",
        "transactions",
        "fees",
    )
    write_operations = frozenset({"resident_charge", "resident_payment", "resident_charge_batch"})

    def __init__(self, access: IntegrationAccess, http: httpx.AsyncClient) -> None:
        self._v1 = ResManV1Client(http, access)
        self._v2 = ResManV2Client(http, access)

    def window_start(self, since: datetime | None) -> datetime:
        """The oldest moment ResMan lets us ask about, or `since` if more recent."""
        oldest = clock.now() - V2_LOOKBACK
        return oldest if since is None or since < oldest else since

    async def _property_ids(self) -> list[str]:
        data = await self._v2.get("/Properties")
        return [str(p["propertyId"]).lower() for p in data.get("properties", [])]

    async def fetch(self, model: str, since: datetime | None) -> AsyncIterator[list[RecordData]]:
        """Pages of one model; `leases` pages also carry the residents on those leases."""
        if model == "properties":
            data = await self._v2.get("/Properties")
            yield [map_property(p) for p in data.get("properties", [])]
        elif model == "charge_codes":
            data = await self._v2.get("/TransactionCategories", {"types": CHARGE_CODE_TYPES})
            categories = data.get("categories", [])
            for pid in await self._property_ids():
                yield [map_charge_code(c, pid) for c in categories]
        elif model == "floor_plans":
            for pid in await self._property_ids():
                envelope = await self._v1.read_document(MARKETING_METHOD, {"PropertyID": pid})
                yield [] if envelope.response is None else map_floor_plans(envelope.response, pid)
        elif model == "units":
            for pid in await self._property_ids():
                envelope = await self._v1.read_document(UNITS_METHOD, {"PropertyID": pid})
                yield [] if envelope.response is None else map_units(envelope.response, pid)
        elif model == "leases":
            modified_since = rfc1123(self.window_start(since))
            for pid in await self._property_ids():
                data = await self._v2.get(
                    "/Leasing/Leases", {"propertyId": pid, "modifiedSince": modified_since}
                )
                leases = data.get("leases", [])
                yield [map_lease(lease) for lease in leases] + map_residents(leases)
        elif model == "transactions":
            # Billing accounts carry the partner `reference` that reconciliation matches on.
            modified_since = rfc1123(self.window_start(since))
            for pid in await self._property_ids():
                data = await self._v2.get(
                    "/BillingAccounts",
                    {
                        "propertyId": pid,
                        "modifiedSince": modified_since,
                        "includeTransactions": "true",
                    },
                )
                yield [
                    record
                    for account in data.get("billingAccounts", [])
                    for record in map_account_transactions(account, pid)
                ]
        elif model == "fees":
            for pid in await self._property_ids():
                envelope = await self._v1.read_document(MARKETING_METHOD, {"PropertyID": pid})
                yield [] if envelope.response is None else map_fees(envelope.response, pid)
        else:
            raise ValueError(f"ResMan cannot sync {model!r}")

    async def post_transactions(
        self, x_property_id: str, transactions: list[TransactionToPost]
    ) -> None:
        """Post one MITS document; ResMan files it in Partner Transactions and returns no ids."""
        if not transactions:
            raise RejectedError("nothing to post")
        document = build_resident_transactions(x_property_id, transactions)
        try:
            await self._v1.post_document(
                POST_METHOD, {"PropertyID": x_property_id, "Xml": document}
            )
        except RejectedError as error:
            raise RejectedError(
                error.message, blame_transactions(error.message, document_order(transactions))
            ) from error


# Assumption: a rejected document's ErrorDescription names its faulty transactions as
# "Transaction N: reason" (1-based, document order), several joined by " | ", as the sandbox
# does; ResMan's exact wording is not public. Anything else is blamed on the whole document.
BLAME = re.compile(r"Transaction (\d+): (.*?)(?= \| Transaction \d+: |$)")


def blame_transactions(description: str, order: list[int]) -> dict[int, str]:
    """Which of our transactions (by index) a rejection names, with its reason."""
    blamed = {}
    for number, reason in BLAME.findall(description):
        position = int(number) - 1
        if 0 <= position < len(order):
            blamed[order[position]] = reason
    return blamed
