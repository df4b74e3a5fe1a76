"""The ResMan connector: what propbridge syncs from ResMan and how it posts to it.

Joins the clients, the MITS builder and the mapping; holds no database access.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from propbridge import clock
from propbridge.connectors.base import (
    AuthenticationError,
    IntegrationAccess,
    RecordData,
    RejectedError,
    TransactionToPost,
)
from propbridge.connectors.resman.clients import PRODUCTION_V1, ResManV1Client, ResManV2Client
from propbridge.connectors.resman.mapping import (
    map_account_transactions,
    map_charge_code,
    map_fees,
    map_floor_plans,
    map_lease,
    map_property,
    map_residents,
    map_unit,
    needs_ledger,
)
from propbridge.connectors.resman.mits import build_resident_transactions, document_order

# ResMan's v2 rejects a modifiedSince more than 364 days back; keep a margin for clock skew.
V2_LOOKBACK = timedelta(days=364) - timedelta(hours=1)
POST_METHOD = "MITS/PostResidentTransactions2_0"
MARKETING_METHOD = "MITS/GetMarketing4_0"
# Live ResMan answers one `types` value per call (a comma-joined list gets an empty set).
CATEGORY_TYPES = ("Charge", "Credit", "Payment", "Deposit")
# Ledger reads in flight at once per property (each still waits for the request budget).
LEDGER_CONCURRENCY = 8


def canonical_url(base_url: str | None) -> str:
    """A base URL as one text for every way of writing the same place (RFC 3986's equivalences:
    case of the scheme and host, a host's final dot, a default port, `.` and `..` segments,
    escaped unreserved characters, trailing slashes); ResMan's production hosts when there is
    none."""
    if not base_url:
        return PRODUCTION_V1
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    try:
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError:  # not a URL any call could use: compared as written
        return base_url.strip().lower().rstrip("/")
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(scheme)
    shown_port = "" if port in (None, default_port) else f":{port}"
    path = _without_dot_segments(UNRESERVED_ESCAPE.sub(_unescaped, parts.path))
    tail = (f"?{parts.query}" if parts.query else "") + (
        f"#{parts.fragment}" if parts.fragment else ""
    )
    return f"{scheme}://{host}{shown_port}{path.rstrip('/')}{tail}"


# A %-escape of a character that needs none (letters, digits, `-._~`), or of lower-case hex.
UNRESERVED_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _unescaped(match: re.Match[str]) -> str:
    character = chr(int(match.group(1), 16))
    if character.isascii() and (character.isalnum() or character in "-._~"):
        return character
    return match.group(0).upper()


def _without_dot_segments(path: str) -> str:
    """RFC 3986's remove_dot_segments, on segments: `/a/./b/../c` is `/a/c`."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(kept) > 1:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    return "/".join(kept)


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

    @staticmethod
    def pms_account(base_url: str | None, credentials: dict[str, str]) -> str:
        """A ResMan account is its `AccountID` at one ResMan (the production hosts, or the
        `base_url` given): the partner id and key only say who asks. Two integrations with the
        same account post into one ledger, whatever their names or keys."""
        return f"{canonical_url(base_url)} {credentials['accountId'].strip().casefold()}"

    def __init__(self, access: IntegrationAccess, http: httpx.AsyncClient) -> None:
        self._v1 = ResManV1Client(http, access)
        self._v2 = ResManV2Client(http, access)
        self._properties: list[str] | None = None

    def window_start(self, since: datetime | None) -> datetime:
        """The oldest moment ResMan lets us ask about, or `since` if more recent."""
        oldest = clock.now() - V2_LOOKBACK
        return oldest if since is None or since < oldest else since

    async def _property_ids(self) -> list[str]:
        """The account's properties (read once per connector, that is once per sync)."""
        if self._properties is None:
            data = await self._v2.get("/Properties")
            self._properties = [str(p["propertyId"]).lower() for p in data.get("properties", [])]
        return self._properties

    async def fetch(self, model: str, since: datetime | None) -> AsyncIterator[list[RecordData]]:
        """Pages of one model; `leases` pages also carry the residents on those leases."""
        if model == "properties":
            data = await self._v2.get("/Properties")
            items = data.get("properties", [])
            self._properties = [str(p["propertyId"]).lower() for p in items]
            yield [map_property(p) for p in items]
        elif model == "charge_codes":
            categories = await self._categories()
            for pid in await self._property_ids():
                yield [map_charge_code(c, pid) for c in categories]
        elif model == "floor_plans":
            for pid in await self._property_ids():
                envelope = await self._v1.read_document(MARKETING_METHOD, {"PropertyID": pid})
                yield [] if envelope.response is None else map_floor_plans(envelope.response, pid)
        elif model == "units":
            for pid in await self._property_ids():
                data = await self._v2.get("/Units", {"propertyId": pid})
                yield [map_unit(unit) for unit in data.get("units", [])]
        elif model == "leases":
            modified_since = rfc1123(self.window_start(since))
            for pid in await self._property_ids():
                data = await self._v2.get(
                    "/Leasing/Leases",
                    {
                        "propertyId": pid,
                        "modifiedSince": modified_since,
                        # Each lease's own term carries its rent.
                        "includeLeaseHistory": "true",
                    },
                )
                leases = data.get("leases", [])
                yield [map_lease(lease) for lease in leases] + map_residents(leases)
        elif model == "transactions":
            modified_since = rfc1123(self.window_start(since))
            for pid in await self._property_ids():
                yield await self._transactions(pid, modified_since)
        elif model == "fees":
            for pid in await self._property_ids():
                envelope = await self._v1.read_document(MARKETING_METHOD, {"PropertyID": pid})
                yield [] if envelope.response is None else map_fees(envelope.response, pid)
        else:
            raise ValueError(f"ResMan cannot sync {model!r}")

    async def _categories(self) -> list[dict[str, Any]]:
        """Every transaction category, one call per type, merged by id."""
        merged: dict[str, dict[str, Any]] = {}
        for category_type in CATEGORY_TYPES:
            data = await self._v2.get("/TransactionCategories", {"types": category_type})
            for category in data.get("transactionCategories", []):
                merged.setdefault(str(category["transactionCategoryId"]).lower(), category)
        return list(merged.values())

    async def _transactions(self, pid: str, modified_since: str) -> list[RecordData]:
        """A property's ledger transactions changed since a moment.

        The billing accounts give every transaction with its partner `reference` (which
        reconciliation matches on) and category, in one call per property. How a payment was
        made (`method`) and which rows were reversed (`dateReversed`) are only on each account's
        `/Transactions/Ledger`, so that is read too, since the same moment, for the accounts
        whose changes include a payment or an uncategorised row: once per account on a first
        sync, then only for accounts with new payments or reversals, never for every resident
        on every sync."""
        data = await self._v2.get(
            "/BillingAccounts",
            {"propertyId": pid, "modifiedSince": modified_since, "includeTransactions": "true"},
        )
        accounts = data.get("billingAccounts", [])
        wanted = [a for a in accounts if needs_ledger(a)]
        gate = asyncio.Semaphore(LEDGER_CONCURRENCY)

        async def ledger(account: dict[str, Any]) -> list[dict[str, Any]]:
            async with gate:
                rows = await self._v2.get(
                    "/Transactions/Ledger",
                    {
                        "propertyId": pid,
                        "billingAccountId": str(account["billingAccountId"]),
                        "postedSince": modified_since,
                    },
                )
            return list(rows.get("transactions", []))

        ledgers = dict(
            zip(
                (str(a["billingAccountId"]) for a in wanted),
                await asyncio.gather(*(ledger(a) for a in wanted)),
                strict=True,
            )
        )
        return [
            record
            for account in accounts
            for record in map_account_transactions(
                account, pid, ledgers.get(str(account["billingAccountId"]))
            )
        ]

    @staticmethod
    def outgoing_document(
        x_property_id: str, transactions: list[TransactionToPost], indent: bool = False
    ) -> str:
        """The MITS document `post_transactions` sends for these transactions (built by the
        same pure function; `indent` lays it out for reading)."""
        return build_resident_transactions(x_property_id, transactions, indent)

    async def post_transactions(
        self, x_property_id: str, transactions: list[TransactionToPost]
    ) -> None:
        """Post one MITS document; ResMan files it in Partner Transactions and returns no ids."""
        if not transactions:
            raise RejectedError("nothing to post")
        try:
            document = self.outgoing_document(x_property_id, transactions)
        except ValueError as error:
            # Nothing was sent: a document that cannot be built is refused, never "unknown".
            raise RejectedError(f"the document could not be built: {error}") from error
        try:
            await self._v1.post_document(
                POST_METHOD, {"PropertyID": x_property_id, "Xml": document}
            )
        except AuthenticationError:
            raise  # the credentials, not any transaction of the document
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
