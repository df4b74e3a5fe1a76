"""Accepting writes and answering for them: resolution (what a charge or payment names, checked
against the store), retry, status and logs.

Never commits and never calls the PMS: lookups run on the caller's connection (for single charges
and payments, the recorder's transaction, one read for all the writes it records together);
recording is the recorder's (`recorder.py`), sending the job's (`tasks.py`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from propbridge.api.errors import ApiError, bad_request, issue, not_found
from propbridge.auth.service import Principal
from propbridge.connectors.registry import outgoing_document
from propbridge.db.base import utcnow
from propbridge.db.engine import Executor, count_rows
from propbridge.writes import repository, rules
from propbridge.writes.models import WriteRequest
from propbridge.writes.presenters import (
    JOB_TYPES,
    overall_status,
    present_log,
    present_write_status,
    transaction_to_post,
)
from propbridge.writes.rules import AcceptedWrite
from propbridge.writes.schemas import (
    ResidentChargeBatchCreate,
    ResidentChargeCreate,
    ResidentPaymentCreate,
    local_date,
)

WRITE_MAX_ATTEMPTS = 5
# Where a batch's body lists its items (what a refusal of one item names).
BATCH_ITEMS = "charges"
ITEMS_FIELD = {"resident_charge_batch": BATCH_ITEMS}
# A retry in one of these states is live: retrying again answers with it instead of sending
# the write once more.
LIVE_RETRY_STATES = frozenset({"PENDING", "SUCCESS", "PARTIAL_SUCCESS"})


@dataclass(frozen=True)
class PendingWrite:
    """A validated write, ready to be recorded: the request, its items and its dedupe key."""

    integration_id: str
    operation: str
    body: dict[str, Any]
    dedupe_key: str | None
    items: list[dict[str, Any]]
    retry_of: str | None = None
    retry_root: str | None = None
    # A retry's: the job of its chain's first write, which holds the chain's references.
    chain_job_id: str | None = None
    # The body field listing the items (a batch's `charges`); None when the body is one item.
    items_field: str | None = None

    @functools.cached_property
    def digest(self) -> str:
        """A digest of the body, independent of key order (worked out once: the recorder
        compares and stores it)."""
        return rules.body_digest(self.body)


Resolver = Callable[[Executor, Principal, Any], Awaitable[PendingWrite]]


# ---- Resolution ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a resident's transactions go in ResMan: the property, the lease, the unit."""

    x_property_id: str
    lease_x_id: str
    unit_number: str | None


class _Transaction(Protocol):
    batch_id: str
    reference_number: str
    amount_in_cents: int
    transaction_date: str
    description: str
    notes: str


def _item(
    position: int, kind: str, body: _Transaction, target: Target, **upstream: Any
) -> dict[str, Any]:
    """A write item: what the worker posts for one transaction."""
    return {
        "position": position,
        "kind": kind,
        "reference_number": body.reference_number,
        "batch_id": body.batch_id,
        "amount_in_cents": body.amount_in_cents,
        "x_property_id": target.x_property_id,
        "x_lease_id": target.lease_x_id,
        "upstream": {
            "customer_id": target.lease_x_id,
            "unit_id": target.unit_number,
            "transaction_date": local_date(body.transaction_date),
            "description": body.description,
            "notes": body.notes,
            **upstream,
        },
    }


def _resident_problems(
    path: list[str | int], resident_id: str, found: Any | None
) -> list[dict[str, Any]]:
    if found is None or found.property_id is None:
        return [issue([*path, "resident_id"], f"Resident {resident_id!r} not found in integration")]
    if found.lease_x_id is None:
        return [issue([*path, "resident_id"], "Resident has no synced lease in ResMan")]
    return []


def _code_problems(
    path: list[str | int],
    code_id: str,
    code: Any | None,
    resident_property: str | None,
) -> list[dict[str, Any]]:
    if code is None:
        return [
            issue([*path, "charge_code_id"], f"Charge code {code_id!r} not found in integration")
        ]
    if resident_property is not None and code.property_id != resident_property:
        return [
            issue([*path, "charge_code_id"], "Charge code and resident are in different properties")
        ]
    if code.category_type != "Charge" or not code.code:
        return [
            issue(
                [*path, "charge_code_id"],
                f"Charge code is a {code.category_type} category: only Charge categories can be "
                "charged (see category_type on /v1/charge-codes/)",
            )
        ]
    return []


async def _check_target(
    db: Executor, principal: Principal, integration_id: str, operation: str
) -> str:
    """The vendor lookup, then the rules (400 unknown, 403 out of scope, 405 unsupported)."""
    vendor = await repository.vendor_of(db, integration_id)
    return rules.check_target(principal, integration_id, vendor, operation)


@dataclass
class Needs:
    """What resolving some writes reads (and the dedupe keys they will be recorded under)."""

    integration_ids: set[str] = field(default_factory=set)
    resident_ids: set[str] = field(default_factory=set)
    code_ids: set[str] = field(default_factory=set)
    dedupe_keys: set[str] = field(default_factory=set)
    # Normalized references (`rules.normalized_reference`), whose claims are read in every
    # account: the integrations' accounts are read in the same statement.
    references: set[str] = field(default_factory=set)

    def add(self, other: Needs) -> None:
        """Also what `other` reads."""
        self.integration_ids |= other.integration_ids
        self.resident_ids |= other.resident_ids
        self.code_ids |= other.code_ids
        self.dedupe_keys |= other.dedupe_keys
        self.references |= other.references

    def add_write(self, pending: PendingWrite) -> None:
        """Also what recording a resolved write reads: its integration's account, its dedupe
        key and the claims on its references."""
        self.integration_ids.add(pending.integration_id)
        if pending.dedupe_key is not None:
            self.dedupe_keys.add(pending.dedupe_key)
        self.references.update(
            rules.normalized_reference(ref) for _, ref in item_references(pending)
        )

    async def read(self, db: repository.Source) -> repository.BatchTargets:
        """All of it, in one statement."""
        return await repository.batch_targets(
            db,
            self.integration_ids,
            self.resident_ids,
            self.code_ids,
            self.dedupe_keys,
            self.references,
        )


@dataclass(frozen=True)
class BatchResolver:
    """How a single charge or payment is checked against the store when it is recorded, with
    the others that arrived with it: what it reads (the recorder reads a whole batch's needs
    at once), then what to record, or the refusal (`ApiError`) to answer with."""

    needs: Callable[[Any], Needs]
    build: Callable[[Principal, Any, repository.BatchTargets], PendingWrite]

    def settle(
        self, principal: Principal, body: Any, found: repository.BatchTargets
    ) -> PendingWrite | ApiError:
        """What to record, or the refusal: one write refused does not refuse the others."""
        try:
            return self.build(principal, body, found)
        except ApiError as refused:
            return refused

    async def resolve(self, db: repository.Source, principal: Principal, body: Any) -> PendingWrite:
        """One write on its own (raises its refusal)."""
        outcome = self.settle(principal, body, await self.needs(body).read(db))
        if isinstance(outcome, ApiError):
            raise outcome
        return outcome


def _resident_in(
    found: repository.BatchTargets, integration_id: str, resident_id: str
) -> repository.ResidentTarget | None:
    """The resident, if it is a record of that integration."""
    row = found.residents.get(resident_id)
    return row if row is not None and row.integration_id == integration_id else None


def _code_in(
    found: repository.BatchTargets, integration_id: str, code_id: str
) -> repository.CodeTarget | None:
    """The charge code, if it is a record of that integration."""
    row = found.codes.get(code_id)
    return row if row is not None and row.integration_id == integration_id else None


def _key(body: ResidentChargeCreate | ResidentPaymentCreate, operation: str) -> str:
    return rules.dedupe_key(body.integration_id, operation, body.batch_id, body.reference_number)


def _reference(body: ResidentChargeCreate | ResidentPaymentCreate) -> set[str]:
    return {rules.normalized_reference(body.reference_number)}


def item_references(pending: PendingWrite) -> list[tuple[int, str]]:
    """`(position, reference_number)` of each item a write sends. A first write claims them;
    a retry re-sends its chain's, which its chain's first write holds (`chain_job_id`)."""
    return [(item["position"], item["reference_number"]) for item in pending.items]


def _charge_needs(body: ResidentChargeCreate) -> Needs:
    key = _key(body, "resident_charge")
    return Needs(
        {body.integration_id}, {body.resident_id}, {body.charge_code_id}, {key}, _reference(body)
    )


def _charge(
    principal: Principal, body: ResidentChargeCreate, found: repository.BatchTargets
) -> PendingWrite:
    """A charge checked against what was read: the rules (400 unknown, 403 out of scope, 405
    unsupported), then its resident and charge code (400 naming each problem)."""
    operation = "resident_charge"
    vendor = found.vendors.get(body.integration_id)
    rules.check_target(principal, body.integration_id, vendor, operation)
    resident = _resident_in(found, body.integration_id, body.resident_id)
    code = _code_in(found, body.integration_id, body.charge_code_id)
    problems = _resident_problems([], body.resident_id, resident)
    problems += _code_problems(
        [],
        body.charge_code_id,
        code,
        None if problems or resident is None else resident.property_id,
    )
    if problems:
        raise bad_request("The charge names records that cannot take it", problems)
    assert resident is not None and resident.lease_x_id is not None and code is not None
    target = Target(resident.x_property_id, resident.lease_x_id, resident.unit_number)
    item = _item(0, "charge", body, target, charge_code=code.code)
    return PendingWrite(
        body.integration_id, operation, body.model_dump(), _key(body, operation), [item]
    )


def _payment_needs(body: ResidentPaymentCreate) -> Needs:
    key = _key(body, "resident_payment")
    return Needs({body.integration_id}, {body.resident_id}, set(), {key}, _reference(body))


def _payment(
    principal: Principal, body: ResidentPaymentCreate, found: repository.BatchTargets
) -> PendingWrite:
    """A payment checked against what was read (`PaidBy` = the resident's name)."""
    operation = "resident_payment"
    vendor = found.vendors.get(body.integration_id)
    rules.check_target(principal, body.integration_id, vendor, operation)
    resident = _resident_in(found, body.integration_id, body.resident_id)
    problems = _resident_problems([], body.resident_id, resident)
    if problems:
        raise bad_request("The payment names records that cannot take it", problems)
    assert resident is not None and resident.lease_x_id is not None
    paid_by = " ".join(part for part in (resident.first_name, resident.last_name) if part) or None
    target = Target(resident.x_property_id, resident.lease_x_id, resident.unit_number)
    item = _item(0, "payment", body, target, payment_type=body.payment_type, paid_by=paid_by)
    return PendingWrite(
        body.integration_id, operation, body.model_dump(), _key(body, operation), [item]
    )


RESIDENT_CHARGE = BatchResolver(_charge_needs, _charge)
RESIDENT_PAYMENT = BatchResolver(_payment_needs, _payment)


async def resolve_resident_charge(
    db: Executor, principal: Principal, body: ResidentChargeCreate
) -> PendingWrite:
    """One charge checked against the store and built into what the worker needs."""
    return await RESIDENT_CHARGE.resolve(db, principal, body)


async def resolve_resident_payment(
    db: Executor, principal: Principal, body: ResidentPaymentCreate
) -> PendingWrite:
    """One payment checked against the store and built into what the worker posts."""
    return await RESIDENT_PAYMENT.resolve(db, principal, body)


def _batch_problems(
    body: ResidentChargeBatchCreate, residents: dict[str, Any], codes: dict[str, Any]
) -> list[dict[str, Any]]:
    """What stops each charge of a batch: its records, another property, a repeated reference."""
    problems: list[dict[str, Any]] = []
    batch_property: str | None = None
    seen: dict[str, int] = {}
    for index, charge in enumerate(body.charges):
        path: list[str | int] = ["charges", index]
        resident = residents.get(charge.resident_id)
        found = _resident_problems(path, charge.resident_id, resident)
        property_id = None if found or resident is None else resident.property_id
        found += _code_problems(
            path, charge.charge_code_id, codes.get(charge.charge_code_id), property_id
        )
        if property_id is not None:
            batch_property = batch_property or property_id
            if property_id != batch_property:
                found.append(
                    issue(
                        [*path, "resident_id"],
                        "Resident is in another property than the batch's first charge: "
                        "a batch goes to one ResMan property",
                    )
                )
        # One reference is one transaction of the account, whatever its batch_id.
        key = rules.normalized_reference(charge.reference_number)
        if key in seen:
            found.append(
                issue(
                    [*path, "reference_number"],
                    f"reference_number repeats charge {seen[key]}'s (compared without case)",
                )
            )
        seen.setdefault(key, index)
        problems += found
    return problems


async def resolve_charge_batch(
    db: Executor, principal: Principal, body: ResidentChargeBatchCreate
) -> PendingWrite:
    """Check every charge of a batch (one property, no reference twice) in two queries."""
    operation = "resident_charge_batch"
    await _check_target(db, principal, body.integration_id, operation)
    residents = await repository.residents_with_leases(
        db, body.integration_id, sorted({c.resident_id for c in body.charges})
    )
    codes = await repository.charge_codes(
        db, body.integration_id, sorted({c.charge_code_id for c in body.charges})
    )
    problems = _batch_problems(body, residents, codes)
    if problems:
        raise bad_request("Some charges of the batch cannot be posted", problems)
    items = []
    for index, charge in enumerate(body.charges):
        resident = residents[charge.resident_id]
        target = Target(resident.x_property_id, resident.lease_x_id, resident.unit_number)
        code = codes[charge.charge_code_id].code
        items.append(_item(index, "charge", charge, target, charge_code=code))
    key = rules.batch_dedupe_key(
        body.integration_id, operation, ((c.batch_id, c.reference_number) for c in body.charges)
    )
    return PendingWrite(
        body.integration_id, operation, body.model_dump(), key, items, items_field=BATCH_ITEMS
    )


# Which resolution checks each operation's body against the store.
RESOLVERS: dict[str, Resolver] = {
    "resident_charge": resolve_resident_charge,
    "resident_payment": resolve_resident_payment,
    "resident_charge_batch": resolve_charge_batch,
}


async def resolve_generic(
    db: Executor, principal: Principal, operation: str, body: dict[str, Any], ignore_unknown: bool
) -> PendingWrite:
    """A vendor-agnostic write: find the integration's vendor, check the body against that
    vendor's schema (400 naming unknown fields unless they are to be dropped), resolve it."""
    integration_id = body.get("integration_id")
    if not isinstance(integration_id, str) or not integration_id.strip():
        raise bad_request(
            "integration_id is required", [issue(["integration_id"], "Required string")]
        )
    vendor = await _check_target(db, principal, integration_id, operation)
    schema = rules.write_body(vendor, operation)
    unknown = sorted(set(body) - set(schema.model_fields))
    if unknown and not ignore_unknown:
        raise bad_request(
            f"Fields not supported by {vendor}: {', '.join(unknown)}",
            [
                issue(
                    [name],
                    f"Not supported by {vendor}; send ?ignore_unknown_fields=true to drop it",
                )
                for name in unknown
            ],
        )
    accepted = schema.model_validate({k: v for k, v in body.items() if k not in unknown})
    return await RESOLVERS[operation](db, principal, accepted)


# ---- Status and retry ---------------------------------------------------------------------------


async def _write_in_scope(
    db: Executor, principal: Principal, root_job_id: str, missing: ApiError
) -> repository.WriteWithJob:
    """The write a job carries; `missing` when there is none or it is outside the key's scope."""
    found = await repository.write_by_job(db, root_job_id)
    if found is None or not principal.may_use(found.request.integration_id):
        raise missing
    return found


async def write_status(db: Executor, principal: Principal, root_job_id: str) -> dict[str, Any]:
    """What became of a write (404 when unknown or outside the key's scope)."""
    found = await _write_in_scope(db, principal, root_job_id, not_found(f"Job {root_job_id}"))
    items = await repository.items_of(db, found.request.id)
    retried_by = await repository.latest_retry_job(db, found.request.id)
    return present_write_status(found.request, found.job_state, found.job_error, items, retried_by)


async def _status_of(db: Executor, write: WriteRequest) -> str:
    state = await repository.job_state(db, write.job_id)
    return overall_status(state or "failed", await repository.items_of(db, write.id))


async def write_to_retry(
    db: Executor, principal: Principal, root_job_id: str, outcome_checked: bool = False
) -> PendingWrite | AcceptedWrite:
    """What retrying a write means: its chain's live retry if there is one (so no number of
    calls sends a write twice), else a new numbered retry of the chain's latest failed write
    (404 unknown, 400 when the write did not fail).

    A write whose outcome is unknown may be waiting in ResMan's Partner Transactions, where no
    read can see it: sending it again could post it twice. It is retried only once the caller
    says they checked (`outcome_checked`); otherwise 409."""
    # (The message differs from write status's: kept as it was.)
    missing = ApiError(404, "not_found", f"Job {root_job_id} not found")
    found = (await _write_in_scope(db, principal, root_job_id, missing)).request
    root_id = found.retry_root or found.id
    retries = await repository.retries_of(db, root_id)
    latest = retries[-1] if retries else found
    status = await _status_of(db, latest)
    if retries and status in LIVE_RETRY_STATES:
        return AcceptedWrite(latest.job_id, latest.request_body)
    if status != "FAILURE":
        raise bad_request(
            f"Only failed writes can be retried; this one is {status}",
            [issue(["root_job_id"], f"write_status is {status}")],
        )
    items = await repository.items_of(db, latest.id)
    unknown = [item.reference_number for item in items if item.status == "OUTCOME_UNKNOWN"]
    if unknown and not outcome_checked:
        raise ApiError(
            409,
            "outcome_unknown",
            "ResMan may have received this write: no answer came for "
            f"{', '.join(unknown[:5])}{', …' if len(unknown) > 5 else ''}. "
            "Look for them in ResMan's Partner Transactions: if they are there, decide them "
            "there and the next sync reconciles this write; retry with outcome_checked=true "
            "only if they are not.",
            {"issues": [issue(["outcome_checked"], "Required when an outcome is unknown")]},
        )
    root = found if found.id == root_id else await repository.write_by_id(db, root_id)
    return PendingWrite(
        latest.integration_id,
        latest.operation,
        latest.request_body,
        rules.retry_dedupe_key(root_id, len(retries) + 1),
        [{name: getattr(item, name) for name in repository.ITEM_FIELDS} for item in items],
        retry_of=latest.id,
        retry_root=root_id,
        chain_job_id=None if root is None else root.job_id,
        items_field=ITEMS_FIELD.get(latest.operation),
    )


# ---- Logs ---------------------------------------------------------------------------------------

TIME_RANGES = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=31),
}
# Propexo's write categories, and which of our operations fall in each.
CATEGORIES = {
    "resident_charges": ("resident_charge", "resident_charge_batch"),
    "resident_payments": ("resident_payment",),
}
LOG_STATUSES = ("SUCCESS", "FAILURE")


@dataclass(frozen=True)
class LogQuery:
    """A write-log request: Propexo's filters (and ours, `item_status`) and the page."""

    offset: int
    limit: int
    integration_id: str | None = None
    time_range: str | None = None
    status: str | None = None
    write_category: str | None = None
    item_status: str | None = None


async def write_logs(db: Executor, principal: Principal, query: LogQuery) -> dict[str, Any]:
    """The latest state of each finished write the principal may see, newest first."""
    filters = repository.LogFilters(
        integration_ids=principal.integration_ids,
        integration_id=query.integration_id,
        since=utcnow() - TIME_RANGES[query.time_range] if query.time_range else None,
        status=query.status,
        operations=CATEGORIES[query.write_category] if query.write_category else None,
        item_status=query.item_status,
    )
    logs, total = await _page_of_writes(db, filters, query.offset, query.limit)
    return {
        "results": {"logs": logs},
        "meta": {
            "offset": query.offset,
            "limit": query.limit,
            "total": total,
            "hasMore": query.offset + len(logs) < total,
        },
    }


# ---- What the console shows ---------------------------------------------------------------------

WRITE_STATUSES = ("PENDING", "SUCCESS", "FAILURE")
OPERATIONS = tuple(JOB_TYPES)


@dataclass(frozen=True)
class WriteQuery:
    """Every write (finished or not) narrowed by outcome, operation, integration and when it
    was made (`since` inclusive, `before` exclusive)."""

    offset: int = 0
    limit: int = 50
    status: str | None = None
    operation: str | None = None
    integration_id: str | None = None
    since: datetime | None = None
    before: datetime | None = None
    item_status: str | None = None

    def filters(self, principal: Principal) -> repository.LogFilters:
        """The repository's filters for this query, within the key's scope."""
        return repository.LogFilters(
            integration_ids=principal.integration_ids,
            integration_id=self.integration_id,
            since=self.since,
            before=self.before,
            status=self.status,
            operations=(self.operation,) if self.operation else None,
            finished_only=False,
            item_status=self.item_status,
        )


async def list_writes(
    db: Executor, principal: Principal, query: WriteQuery
) -> tuple[list[dict[str, Any]], int]:
    """A page of the writes the key may see, newest first, as the write logs show each; and
    how many there are in all."""
    return await _page_of_writes(db, query.filters(principal), query.offset, query.limit)


async def _page_of_writes(
    db: Executor, filters: repository.LogFilters, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The writes the filters admit, a page of them as write logs, and how many in all."""
    statement = repository.write_logs_statement(filters)
    total = await count_rows(db, statement)
    rows = list(await db.execute(statement.offset(offset).limit(limit)))
    counts = await repository.item_counts(db, [row[0].id for row in rows])
    return [
        present_log(write, state, error, vendor, status, retried_by, counts[write.id])
        for write, state, error, vendor, status, retried_by in rows
    ], total


async def writes_per_day(
    db: Executor, principal: Principal, query: WriteQuery
) -> list[tuple[str, str, int]]:
    """(day, status, count) of the writes the query admits."""
    return await repository.writes_per_day(db, query.filters(principal))


async def write_detail(db: Executor, principal: Principal, job_id: str) -> dict[str, Any]:
    """One write whole: what was asked, the document its connector sends, what the PMS
    answered, its items and every write of its retry chain (404 outside the key's scope)."""
    found = await _write_in_scope(db, principal, job_id, not_found(f"Job {job_id}"))
    write = found.request
    items = await repository.items_of(db, write.id)
    vendor = await repository.vendor_of(db, write.integration_id) or ""
    document = None
    if items:
        document = outgoing_document(
            vendor, items[0].x_property_id, [transaction_to_post(item) for item in items]
        )
    root_id = write.retry_root or write.id
    root = write if root_id == write.id else await repository.write_by_id(db, root_id)
    chain = [] if root is None else [root, *await repository.retries_of(db, root_id)]
    return {
        "write": write,
        "vendor": vendor,
        "status": present_write_status(write, found.job_state, found.job_error, items),
        "job_state": found.job_state,
        "job_error": found.job_error,
        "items": items,
        "document": document,
        "chain": [(step, await _status_of(db, step)) for step in chain],
    }
