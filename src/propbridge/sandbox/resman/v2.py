"""The v2 partner surface (`partners-api.myresman.com`): JSON GETs with Basic auth and
`ResMan-Account-Id`, errors as `{message, code, status}`.

Every query parameter live ResMan documents for these endpoints is honoured; one the sandbox
does not know is a 400 (live ResMan ignores unknown names silently, which hid misspelled filters
from an early client: here they fail loudly). Parameter checks and routing only; `reads.py`
builds the answers.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from propbridge.sandbox.resman import reads
from propbridge.sandbox.resman.state import sandbox_of

V2_LOOKBACK = timedelta(days=364)
# Live lists (tests/contracts/resman_v2.json, from StaticPrime/resman-connector's live types).
CATEGORY_TYPES = ("Charge", "Credit", "Payment", "Deposit")
LEASE_STATUSES = (
    "Pending",
    "Pending Renewal",
    "Pending Transfer",
    "Denied",
    "Cancelled",
    "Current",
    "Notice to Vacate",
    "Month to Month",
    "Under Eviction",
    "Former",
    "Evicted",
    "Renewed",
)
ACCOUNT_TYPES = ("Lease", "Split Ledger", "Non-Resident", "Account", "WOIT Account", "Prospect")
# `/Leasing/Leases` filters: date ranges and yes/no questions, by the lease column they test.
LEASE_DATE_FILTERS = {
    "application": "l.application_date",
    "approval": "l.approval_date",
    "cancellation": "l.cancellation_date",
    "denial": "l.denial_date",
    "leaseSigned": "l.lease_signed_date",
    "scheduledMoveIn": "l.scheduled_move_in_date",
    "moveIn": "l.move_in_date",
    "noticeToVacate": "l.notice_to_vacate_date",
    "scheduledMoveOut": "l.scheduled_move_out_date",
    "moveOut": "l.move_out_date",
    "moveOutReconciliation": "l.move_out_reconciliation_date",
}
LEASE_FLAG_FILTERS = {
    "isLeaseSigned": "l.lease_signed_date",
    "isMovedIn": "l.move_in_date",
    "isNoticeToVacateGiven": "l.notice_to_vacate_date",
    "isMovedOut": "l.move_out_date",
    "isMoveOutReconciliationComplete": "l.move_out_reconciliation_date",
}
LEASE_PARAMS = frozenset(
    {
        "propertyId",
        "modifiedSince",
        "includeLeaseHistory",
        "billingAccountId",
        "leaseStatuses",
        "unitId",
        "unitNumber",
        *LEASE_FLAG_FILTERS,
        *(f"{name}Date{end}" for name in LEASE_DATE_FILTERS for end in ("From", "To")),
    }
)


class V2Problem(Exception):
    """A v2 request the sandbox refuses, with its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def v2_error(status: int, message: str) -> JSONResponse:
    """ResMan's v2 error body."""
    code = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound"}.get(status, "Error")
    return JSONResponse({"message": message, "code": code, "status": status}, status_code=status)


def _authorised(request: Request) -> None:
    sandbox = sandbox_of(request)
    header = request.headers.get("authorization", "")
    user = password = ""
    if header.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
    config = sandbox.config
    if not (
        secrets.compare_digest(user, config.partner_id)
        and secrets.compare_digest(password, config.api_key)
        and request.headers.get("resman-account-id", "") == config.account_id
    ):
        raise V2Problem("Unauthorized", 401)


router = APIRouter(dependencies=[Depends(_authorised)])


class Query:
    """A request's query parameters, checked one by one against what the endpoint takes."""

    def __init__(self, request: Request, allowed: frozenset[str] | set[str]) -> None:
        self.params = request.query_params
        self.sandbox = sandbox_of(request)
        unknown = sorted(set(self.params) - set(allowed))
        if unknown:
            raise V2Problem(
                f"Unknown query parameter(s): {', '.join(unknown)} (the sandbox refuses what it "
                "cannot honour; ResMan would ignore them)"
            )

    def text(self, name: str, required: bool = False) -> str | None:
        value = (self.params.get(name) or "").strip()
        if not value:
            if required:
                raise V2Problem(f"{name} is required")
            return None
        return value

    def flag(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise V2Problem(f"{name} must be true or false, not {value!r}")
        return value.lower() == "true"

    def day(self, name: str) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError as error:
            raise V2Problem(f"{name} is not a valid date: {value!r}") from error

    def choices(self, name: str, allowed: tuple[str, ...]) -> list[str] | None:
        value = self.text(name)
        if value is None:
            return None
        chosen = [v.strip() for v in value.split(",") if v.strip()]
        wrong = [v for v in chosen if v not in allowed]
        if wrong:
            raise V2Problem(f"{name}: unknown value(s) {', '.join(wrong)}")
        return chosen

    def moment(self, name: str, required: bool, at_most_364_days: bool = True) -> str | None:
        """A timestamp (RFC 1123 as ResMan's clients send it, or ISO) in the past and, where
        ResMan says so, at most 364 days back; returned as the store's ISO text."""
        raw = self.text(name, required)
        if raw is None:
            return None
        try:
            moment = (
                parsedate_to_datetime(raw)
                if "," in raw
                else datetime.fromisoformat(raw.replace("Z", "+00:00"))
            )
        except (TypeError, ValueError) as error:
            raise V2Problem(f"{name} is not a valid date: {raw!r}") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        now = self.sandbox.now()
        if moment > now + timedelta(minutes=5):
            raise V2Problem(f"{name} must be in the past")
        if at_most_364_days and moment < now - V2_LOOKBACK - timedelta(minutes=5):
            raise V2Problem(f"{name} cannot be more than 364 days in the past")
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def property_id(self) -> str:
        pid = (self.text("propertyId", required=True) or "").lower()
        if reads.property_row(self.sandbox.store, pid) is None:
            raise V2Problem(f"Property {pid} was not found", 404)
        return pid


@router.get("/Properties")
def properties(request: Request) -> dict[str, Any]:
    """The account's properties."""
    query = Query(request, set())
    return {"properties": reads.properties(query.sandbox.store, query.sandbox.now().date())}


@router.get("/TransactionCategories")
def transaction_categories(request: Request) -> dict[str, Any]:
    """One type of category per call; live answers a comma-joined list with nothing, and fails
    without `types` (a 500 there; a 400 here)."""
    query = Query(request, {"types"})
    types = query.text("types", required=True) or ""
    if "," in types:
        return {"transactionCategories": reads.categories(query.sandbox.store, None)}
    if types not in CATEGORY_TYPES:
        raise V2Problem(f"types: unknown value {types!r}")
    return {"transactionCategories": reads.categories(query.sandbox.store, types)}


@router.get("/Leasing/Leases")
def leases(request: Request) -> dict[str, Any]:
    """Leases changed since a moment, filtered as asked."""
    query = Query(request, LEASE_PARAMS)
    lease_query = reads.LeaseQuery(
        query.property_id(), query.moment("modifiedSince", required=True)
    )
    conditions, values = lease_query.conditions, lease_query.values
    for name, column in (
        ("billingAccountId", "l.billing_account_id"),
        ("unitId", "l.unit_id"),
        ("unitNumber", "u.unit_number"),
    ):
        value = query.text(name)
        if value is not None:
            conditions.append(f"lower({column}) = ?")
            values.append(value.lower())
    statuses = query.choices("leaseStatuses", LEASE_STATUSES)
    if statuses:
        conditions.append(f"l.status IN ({', '.join('?' for _ in statuses)})")
        values.extend(statuses)
    for name, column in LEASE_DATE_FILTERS.items():
        for end, operator in (("From", ">="), ("To", "<=")):
            day = query.day(f"{name}Date{end}")
            if day is not None:
                conditions.append(f"{column} {operator} ?")
                values.append(day)
    for name, column in LEASE_FLAG_FILTERS.items():
        flag = query.flag(name)
        if flag is not None:
            conditions.append(f"{column} IS {'NOT ' if flag else ''}NULL")
    history = bool(query.flag("includeLeaseHistory"))
    return {"leases": reads.leases(query.sandbox.store, lease_query, history)}


@router.get("/Leasing/RecurringCharges")
def recurring_charges(request: Request) -> dict[str, Any]:
    """Each lease's recurring charges."""
    query = Query(request, {"propertyId"})
    return {"leases": reads.recurring_charges(query.sandbox.store, query.property_id())}


@router.get("/BillingAccounts")
def billing_accounts(request: Request) -> dict[str, Any]:
    """Billing accounts changed since a moment, with their transactions if asked."""
    query = Query(
        request,
        {
            "propertyId",
            "modifiedSince",
            "includeTransactions",
            "billingAccountId",
            "personId",
            "accountTypes",
        },
    )
    account_query = reads.AccountQuery(
        query.property_id(),
        query.moment("modifiedSince", required=True) or "",
        (query.text("billingAccountId") or "").lower() or None,
        (query.text("personId") or "").lower() or None,
        query.choices("accountTypes", ACCOUNT_TYPES),
    )
    include = bool(query.flag("includeTransactions"))
    return {"billingAccounts": reads.billing_accounts(query.sandbox.store, account_query, include)}


@router.get("/Transactions/Ledger")
def ledger(request: Request) -> dict[str, Any]:
    """One billing account's ledger since a moment. The 364-day limit is not known to apply
    here; the sandbox keeps to it anyway (strict where the evidence is silent)."""
    query = Query(request, {"propertyId", "billingAccountId", "postedSince", "includeSplitLedgers"})
    pid = query.property_id()
    account = (query.text("billingAccountId", required=True) or "").lower()
    posted_since = query.moment("postedSince", required=True) or ""
    query.flag("includeSplitLedgers")  # checked; the seed has no split ledgers
    if not reads.account_exists(query.sandbox.store, pid, account):
        raise V2Problem(f"Billing account {account} was not found", 404)
    return {"transactions": reads.ledger(query.sandbox.store, pid, account, posted_since)}


@router.get("/Units")
def units(request: Request) -> dict[str, Any]:
    """A property's units."""
    query = Query(request, {"propertyId"})
    return {"units": reads.units(query.sandbox.store, query.property_id())}
