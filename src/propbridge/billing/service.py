"""Accepting Billing and Payments writes: check the ids, dedupe, and record the request with its job.

Never commits and never calls the PMS. Lookups run in a read session, the recording in a short
write transaction; the endpoint owns both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from propbridge.api.errors import ApiError, bad_request, issue
from propbridge.auth.service import Principal
from propbridge.billing.models import ChargeCode, WriteItem, WriteRequest
from propbridge.billing.schemas import (
    ResidentChargeBatchCreate,
    ResidentChargeCreate,
    ResidentPaymentCreate,
    local_date,
)
from propbridge.billing.write_status import overall_status
from propbridge.connectors.registry import VENDORS
from propbridge.integrations.models import Integration
from propbridge.jobs.models import Job
from propbridge.residents.models import Lease, Resident

WRITE_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class AcceptedWrite:
    """The job that carries a write and the body it was accepted with."""

    job_id: str
    body: dict[str, Any]


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

    @property
    def digest(self) -> str:
        """A digest of the body, independent of key order."""
        return hashlib.sha256(json.dumps(self.body, sort_keys=True).encode()).hexdigest()


def check_integration(
    principal: Principal, integration_id: str, vendor: str | None, operation: str
) -> None:
    """400 if unknown, 403 outside the key's allow-list, 405 if the PMS cannot do it."""
    if vendor is None:
        raise bad_request(
            "integration_id does not name an integration",
            [issue(["integration_id"], f"Integration {integration_id!r} not found")],
        )
    if not principal.may_use(integration_id):
        raise ApiError(403, "forbidden", "This API key may not write to this integration")
    connector = VENDORS.get(vendor)
    if connector is None or operation not in connector.write_operations:
        raise ApiError(
            405,
            "operation_not_supported",
            f"{vendor} does not support {operation.replace('_', ' ')}s",
        )


# Built once: constructing a statement costs more than running it on this hot path.
CHARGE_TARGET = (
    select(
        Integration.vendor,
        Resident.property_id.label("resident_property"),
        Resident.x_property_id,
        Lease.x_id.label("lease_x_id"),
        Lease.unit_number,
        ChargeCode.id.label("code_id"),
        ChargeCode.property_id.label("code_property"),
        ChargeCode.category_type.label("code_type"),
        ChargeCode.code,
    )
    .select_from(Integration)
    .outerjoin(
        Resident,
        and_(Resident.id == bindparam("resident_id"), Resident.integration_id == Integration.id),
    )
    .outerjoin(
        Lease,
        and_(
            Lease.integration_id == Integration.id,
            Lease.x_property_id == Resident.x_property_id,
            Lease.x_id == Resident.x_lease_id,
        ),
    )
    .outerjoin(
        ChargeCode,
        and_(
            ChargeCode.id == bindparam("charge_code_id"),
            ChargeCode.integration_id == Integration.id,
        ),
    )
    .where(Integration.id == bindparam("integration_id"), Integration.deleted_at.is_(None))
)


async def resolve_resident_charge(
    session: AsyncSession | AsyncConnection, principal: Principal, body: ResidentChargeCreate
) -> PendingWrite:
    """Check the charge's ids against the store in one query and build what the worker needs."""
    operation = "resident_charge"
    row = (
        await session.execute(
            CHARGE_TARGET,
            {
                "integration_id": body.integration_id,
                "resident_id": body.resident_id,
                "charge_code_id": body.charge_code_id,
            },
        )
    ).first()
    check_integration(principal, body.integration_id, row[0] if row else None, operation)
    assert row is not None
    resident = FoundResident(row.resident_property, row.lease_x_id)
    code = None
    if row.code_id is not None:
        code = FoundCode(row.code_property, row.code_type, row.code)
    problems = _resident_problems([], body.resident_id, resident)
    problems += _code_problems(
        [], body.charge_code_id, code, None if problems else row.resident_property
    )
    if problems:
        raise bad_request("The charge names records that cannot take it", problems)
    target = Target(row.x_property_id, row.lease_x_id, row.unit_number)
    item = _charge_item(0, body, target, row.code)
    return PendingWrite(
        body.integration_id, operation, body.model_dump(), _dedupe_key(body, operation), [item]
    )


Resolver = Callable[[Any, Principal, Any], Awaitable[PendingWrite]]


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


def _dedupe_key(body: ResidentChargeCreate | ResidentPaymentCreate, operation: str) -> str:
    return "\x1f".join((body.integration_id, operation, body.batch_id, body.reference_number))


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


def _charge_item(position: int, body: _Transaction, target: Target, code: str) -> dict[str, Any]:
    return _item(position, "charge", body, target, charge_code=code)


@dataclass(frozen=True)
class FoundResident:
    """A resident as a write needs it: their property and the lease writes post to."""

    property_id: str | None
    lease_x_id: str | None


@dataclass(frozen=True)
class FoundCode:
    """A charge code as a write needs it."""

    property_id: str | None
    category_type: str | None
    code: str | None


def _resident_problems(
    path: list[str | int], resident_id: str, found: FoundResident | Any | None
) -> list[dict[str, Any]]:
    if found is None or found.property_id is None:
        return [issue([*path, "resident_id"], f"Resident {resident_id!r} not found in integration")]
    if found.lease_x_id is None:
        return [issue([*path, "resident_id"], "Resident has no synced lease in ResMan")]
    return []


def _code_problems(
    path: list[str | int],
    code_id: str,
    code: FoundCode | Any | None,
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


async def _vendor(session: AsyncSession | AsyncConnection, integration_id: str) -> str | None:
    return (
        await session.execute(
            select(Integration.vendor).where(
                Integration.id == integration_id, Integration.deleted_at.is_(None)
            )
        )
    ).scalar_one_or_none()


def _residents_query(integration_id: str, resident_ids: list[str]) -> Any:
    return (
        select(
            Resident.id,
            Resident.property_id,
            Resident.x_property_id,
            Lease.x_id.label("lease_x_id"),
            Lease.unit_number,
            Resident.first_name,
            Resident.last_name,
        )
        .select_from(Resident)
        .outerjoin(
            Lease,
            and_(
                Lease.integration_id == Resident.integration_id,
                Lease.x_property_id == Resident.x_property_id,
                Lease.x_id == Resident.x_lease_id,
            ),
        )
        .where(Resident.integration_id == integration_id, Resident.id.in_(resident_ids))
    )


async def resolve_resident_payment(
    session: AsyncSession | AsyncConnection, principal: Principal, body: ResidentPaymentCreate
) -> PendingWrite:
    """Check the payment's resident and build what the worker posts (`PaidBy` = their name)."""
    operation = "resident_payment"
    check_integration(
        principal, body.integration_id, await _vendor(session, body.integration_id), operation
    )
    found = (
        await session.execute(_residents_query(body.integration_id, [body.resident_id]))
    ).first()
    problems = _resident_problems([], body.resident_id, found)
    if problems:
        raise bad_request("The payment names records that cannot take it", problems)
    assert found is not None
    paid_by = " ".join(part for part in (found.first_name, found.last_name) if part) or None
    target = Target(found.x_property_id, found.lease_x_id, found.unit_number)
    item = _item(0, "payment", body, target, payment_type=body.payment_type, paid_by=paid_by)
    return PendingWrite(
        body.integration_id, operation, body.model_dump(), _dedupe_key(body, operation), [item]
    )


async def resolve_charge_batch(
    session: AsyncSession | AsyncConnection, principal: Principal, body: ResidentChargeBatchCreate
) -> PendingWrite:
    """Check every charge of a batch (one property, no reference twice) in two queries."""
    operation = "resident_charge_batch"
    check_integration(
        principal, body.integration_id, await _vendor(session, body.integration_id), operation
    )
    resident_ids = sorted({c.resident_id for c in body.charges})
    code_ids = sorted({c.charge_code_id for c in body.charges})
    residents = {
        row.id: row
        for row in await session.execute(_residents_query(body.integration_id, resident_ids))
    }
    codes = {
        row.id: row
        for row in await session.execute(
            select(
                ChargeCode.id, ChargeCode.property_id, ChargeCode.category_type, ChargeCode.code
            ).where(ChargeCode.integration_id == body.integration_id, ChargeCode.id.in_(code_ids))
        )
    }
    problems: list[dict[str, Any]] = []
    batch_property: str | None = None
    seen: dict[tuple[str, str], int] = {}
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
        key = (charge.batch_id, charge.reference_number)
        if key in seen:
            found.append(
                issue(
                    [*path, "reference_number"],
                    f"batch_id and reference_number repeat charge {seen[key]}",
                )
            )
        seen.setdefault(key, index)
        problems += found
    if problems:
        raise bad_request("Some charges of the batch cannot be posted", problems)
    items = []
    for index, charge in enumerate(body.charges):
        resident = residents[charge.resident_id]
        target = Target(resident.x_property_id, resident.lease_x_id, resident.unit_number)
        items.append(_charge_item(index, charge, target, codes[charge.charge_code_id].code))
    # The batch's (batch_id, reference_number) pairs are its identity, as a single charge's are.
    pairs = sorted("\x1e".join(key) for key in seen)
    digest = hashlib.sha256("\x1f".join(pairs).encode()).hexdigest()
    dedupe_key = "\x1f".join((body.integration_id, operation, digest))
    return PendingWrite(body.integration_id, operation, body.model_dump(), dedupe_key, items)


async def find_existing_write(session: AsyncSession, pending: PendingWrite) -> AcceptedWrite | None:
    """The first write with the same dedupe key: replayed if the body matches, else 409."""
    if pending.dedupe_key is None:
        return None
    found = (
        await session.execute(
            select(WriteRequest.job_id, WriteRequest.body_hash, WriteRequest.request_body).where(
                WriteRequest.dedupe_key == pending.dedupe_key
            )
        )
    ).first()
    if found is None:
        return None
    if found[1] != pending.digest:
        raise duplicate_conflict(found[0])
    return AcceptedWrite(found[0], found[2])


def duplicate_conflict(job_id: str) -> ApiError:
    """409: the dedupe key was used before with another body."""
    return ApiError(
        409,
        "duplicate_reference",
        "These batch_id and reference_number values were already used with a different body",
        {"job_id": job_id},
    )


ITEM_FIELDS = (
    "position",
    "kind",
    "reference_number",
    "batch_id",
    "amount_in_cents",
    "x_property_id",
    "x_lease_id",
    "upstream",
)


# A retry in one of these states is live: retrying again answers with it instead of sending
# the write once more.
LIVE_RETRY_STATES = frozenset({"PENDING", "SUCCESS", "PARTIAL_SUCCESS"})


async def _write_status_of(session: AsyncSession, write: WriteRequest) -> str:
    job_state = (await session.execute(select(Job.state).where(Job.id == write.job_id))).scalar()
    items = list(
        (
            await session.execute(select(WriteItem).where(WriteItem.write_request_id == write.id))
        ).scalars()
    )
    return overall_status(job_state or "failed", items)


async def write_to_retry(
    session: AsyncSession, principal: Principal, root_job_id: str
) -> PendingWrite | AcceptedWrite:
    """What retrying a write means: its chain's live retry if there is one (so no number of
    calls sends a write twice), else a new numbered retry of the chain's latest failed write
    (404 unknown, 400 when the write did not fail)."""
    found = (
        await session.execute(select(WriteRequest).where(WriteRequest.job_id == root_job_id))
    ).scalar_one_or_none()
    if found is None or not principal.may_use(found.integration_id):
        raise ApiError(404, "not_found", f"Job {root_job_id} not found")
    root_id = found.retry_root or found.id
    retries = list(
        (
            await session.execute(
                select(WriteRequest)
                .where(WriteRequest.retry_root == root_id)
                .order_by(WriteRequest.created_at, WriteRequest.id)
            )
        ).scalars()
    )
    latest = retries[-1] if retries else found
    status = await _write_status_of(session, latest)
    if retries and status in LIVE_RETRY_STATES:
        return AcceptedWrite(latest.job_id, latest.request_body)
    if status != "FAILURE":
        raise bad_request(
            f"Only failed writes can be retried; this one is {status}",
            [issue(["root_job_id"], f"write_status is {status}")],
        )
    items = list(
        (
            await session.execute(
                select(WriteItem)
                .where(WriteItem.write_request_id == latest.id)
                .order_by(WriteItem.position)
            )
        ).scalars()
    )
    return PendingWrite(
        latest.integration_id,
        latest.operation,
        latest.request_body,
        f"retry:{root_id}:{len(retries) + 1}",
        [{name: getattr(item, name) for name in ITEM_FIELDS} for item in items],
        retry_of=latest.id,
        retry_root=root_id,
    )
