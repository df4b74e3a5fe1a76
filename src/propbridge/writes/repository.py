"""Every query of the writes domain: what a write names, the requests and their items, the job
that carries each, the write logs, and the rows reconciliation matches.

Never commits: the request or the job owns the transaction. Statements used once per charge are
built once (constructing one costs more than running it on these paths).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, insert, select, update
from sqlalchemy.orm import aliased

from propbridge.billing.models import ChargeCode
from propbridge.db.base import utcnow
from propbridge.db.engine import Executor
from propbridge.integrations.models import Integration
from propbridge.jobs.models import Job
from propbridge.residents.models import Lease, Resident
from propbridge.writes.models import WriteItem, WriteRequest

# Items that did not go through: a write with any of them (or whose job failed) failed.
NOT_THROUGH_ITEM_STATES = ("REJECTED", "OUTCOME_UNKNOWN", "PENDING")
# Items the PMS took and whose ledger rows a sync may still find.
OPEN_ITEM_STATES = ("ACCEPTED", "OUTCOME_UNKNOWN")
IN_CHUNK = 500


# ---- What a write names ----------------------------------------------------------------------


def _lease_of_resident(integration_id: Any) -> Any:
    """The join to the lease a resident's writes post to (their `x_lease_id`, same property)."""
    return and_(
        Lease.integration_id == integration_id,
        Lease.x_property_id == Resident.x_property_id,
        Lease.x_id == Resident.x_lease_id,
    )


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
    .outerjoin(Lease, _lease_of_resident(Integration.id))
    .outerjoin(
        ChargeCode,
        and_(
            ChargeCode.id == bindparam("charge_code_id"),
            ChargeCode.integration_id == Integration.id,
        ),
    )
    .where(Integration.id == bindparam("integration_id"), Integration.deleted_at.is_(None))
)


async def charge_target(
    db: Executor, integration_id: str, resident_id: str, charge_code_id: str
) -> Any | None:
    """In one query: the live integration's vendor, the resident with their lease, and the charge
    code (None when the integration is unknown or deleted; null columns for what is missing)."""
    parameters = {
        "integration_id": integration_id,
        "resident_id": resident_id,
        "charge_code_id": charge_code_id,
    }
    return (await db.execute(CHARGE_TARGET, parameters)).first()


async def vendor_of(db: Executor, integration_id: str) -> str | None:
    """The vendor of a live integration; None when it is unknown or deleted."""
    vendor: str | None = (
        await db.execute(
            select(Integration.vendor).where(
                Integration.id == integration_id, Integration.deleted_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    return vendor


async def residents_with_leases(
    db: Executor, integration_id: str, resident_ids: Sequence[str]
) -> dict[str, Any]:
    """Residents of the integration by id, each with the lease writes post to and their name."""
    rows = await db.execute(
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
        .outerjoin(Lease, _lease_of_resident(Resident.integration_id))
        .where(Resident.integration_id == integration_id, Resident.id.in_(resident_ids))
    )
    return {row.id: row for row in rows}


async def charge_codes(
    db: Executor, integration_id: str, code_ids: Sequence[str]
) -> dict[str, Any]:
    """Charge codes of the integration by id: property, ResMan category type and code."""
    rows = await db.execute(
        select(
            ChargeCode.id, ChargeCode.property_id, ChargeCode.category_type, ChargeCode.code
        ).where(ChargeCode.integration_id == integration_id, ChargeCode.id.in_(code_ids))
    )
    return {row.id: row for row in rows}


# ---- Requests, items and their jobs ------------------------------------------------------------


@dataclass(frozen=True)
class SeenWrite:
    """A recorded write as the dedupe rule compares it."""

    job_id: str
    digest: str
    body: dict[str, Any]


async def writes_by_dedupe_key(db: Executor, keys: Iterable[str]) -> dict[str, SeenWrite]:
    """Recorded writes holding any of these dedupe keys."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await db.execute(
        select(
            WriteRequest.dedupe_key,
            WriteRequest.job_id,
            WriteRequest.body_hash,
            WriteRequest.request_body,
        ).where(WriteRequest.dedupe_key.in_(wanted))
    )
    return {row.dedupe_key: SeenWrite(row.job_id, row.body_hash, row.request_body) for row in rows}


async def insert_writes(
    db: Executor,
    requests: list[dict[str, Any]],
    items: list[dict[str, Any]],
    jobs: list[dict[str, Any]],
) -> None:
    """New write requests, their items and their jobs (one transaction: the caller's)."""
    if requests:
        await db.execute(insert(WriteRequest), requests)
        await db.execute(insert(WriteItem), items)
        await db.execute(insert(Job), jobs)


@dataclass(frozen=True)
class WriteWithJob:
    """A write request and the state of the job that carries it."""

    request: WriteRequest
    job_state: str
    job_error: str | None


async def write_by_job(db: Executor, job_id: str) -> WriteWithJob | None:
    """The write carried by a job, with that job's state."""
    row = (
        await db.execute(
            select(WriteRequest, Job.state, Job.last_error)
            .join(Job, Job.id == WriteRequest.job_id)
            .where(WriteRequest.job_id == job_id)
        )
    ).first()
    return None if row is None else WriteWithJob(row[0], row[1], row[2])


async def items_of(db: Executor, request_id: str) -> list[WriteItem]:
    """A write's items, in the order they were sent."""
    rows = await db.execute(
        select(WriteItem)
        .where(WriteItem.write_request_id == request_id)
        .order_by(WriteItem.position)
    )
    return list(rows.scalars())


async def job_state(db: Executor, job_id: str) -> str | None:
    """The state of a write's job (None if it is gone)."""
    state: str | None = (await db.execute(select(Job.state).where(Job.id == job_id))).scalar()
    return state


async def latest_retry_job(db: Executor, request_id: str) -> str | None:
    """The job of the latest retry of a write, if it was retried."""
    job_id: str | None = (
        await db.execute(
            select(WriteRequest.job_id)
            .where(WriteRequest.retry_of == request_id)
            .order_by(WriteRequest.created_at.desc())
            .limit(1)
        )
    ).scalar()
    return job_id


async def retries_of(db: Executor, root_id: str) -> list[WriteRequest]:
    """Every retry in a write's chain, oldest first."""
    rows = await db.execute(
        select(WriteRequest)
        .where(WriteRequest.retry_root == root_id)
        .order_by(WriteRequest.created_at, WriteRequest.id)
    )
    return list(rows.scalars())


# ---- What the write job reads and records -----------------------------------------------------

LOAD_REQUEST = (
    select(
        WriteRequest.integration_id,
        WriteRequest.finished_at,
        WriteRequest.dispatched_at,
        Integration.vendor,
        Integration.base_url,
        Integration.credentials_ciphertext,
        Integration.deleted_at,
        Integration.max_request_frequency,
        Integration.max_request_cadence,
    )
    .join(Integration, Integration.id == WriteRequest.integration_id)
    .where(WriteRequest.id == bindparam("request_id"))
)
LOAD_ITEMS = (
    select(
        WriteItem.position,
        WriteItem.kind,
        WriteItem.reference_number,
        WriteItem.batch_id,
        WriteItem.amount_in_cents,
        WriteItem.x_property_id,
        WriteItem.upstream,
    )
    .where(WriteItem.write_request_id == bindparam("request_id"))
    .order_by(WriteItem.position)
)


async def write_to_send(db: Executor, request_id: str) -> tuple[Any, list[Any]]:
    """A write request with its integration's connection settings, and its items' columns."""
    row = (await db.execute(LOAD_REQUEST, {"request_id": request_id})).first()
    if row is None:
        raise LookupError(f"write request {request_id} is missing")
    items = list((await db.execute(LOAD_ITEMS, {"request_id": request_id})).all())
    return row, items


async def set_dispatched(db: Executor, request_id: str, dispatched: bool) -> None:
    """Mark (or unmark) a write as being sent: committed before the PMS is called."""
    await db.execute(
        update(WriteRequest)
        .where(WriteRequest.id == request_id)
        .values(dispatched_at=utcnow() if dispatched else None)
    )


async def record_outcome(
    db: Executor,
    request_id: str,
    status: str,
    item_error: str | None,
    item_errors: dict[int, str],
    errors: list[str],
) -> None:
    """Every item's status (with its own error where the PMS named one) and the write's end."""
    now = utcnow()
    await db.execute(
        update(WriteItem)
        .where(WriteItem.write_request_id == request_id)
        .values(status=status, error=item_error)
    )
    for position, error in item_errors.items():
        await db.execute(
            update(WriteItem)
            .where(WriteItem.write_request_id == request_id, WriteItem.position == position)
            .values(error=error)
        )
    await db.execute(
        update(WriteRequest)
        .where(WriteRequest.id == request_id)
        .values(errors=errors, finished_at=now, updated_at=now)
    )


async def write_origin(db: Executor, request_id: str) -> Any:
    """The integration, vendor and operation of a write (what its events say)."""
    return (
        await db.execute(
            select(Integration.id, Integration.vendor, WriteRequest.operation)
            .join(WriteRequest, WriteRequest.integration_id == Integration.id)
            .where(WriteRequest.id == request_id)
        )
    ).one()


# ---- Write logs ---------------------------------------------------------------------------------

FAILED = exists().where(
    WriteItem.write_request_id == WriteRequest.id,
    WriteItem.status.in_(NOT_THROUGH_ITEM_STATES),
)
LOG_STATUS = case((Job.state == "failed", "FAILURE"), (FAILED, "FAILURE"), else_="SUCCESS")
RETRY = aliased(WriteRequest)
RETRIED_BY = (
    select(RETRY.job_id)
    .where(RETRY.retry_of == WriteRequest.id)
    .order_by(RETRY.created_at.desc())
    .limit(1)
    .scalar_subquery()
)


@dataclass(frozen=True)
class LogFilters:
    """What a write-log listing is narrowed to (None: no narrowing)."""

    integration_ids: frozenset[str] | None  # the caller's allow-list
    integration_id: str | None = None
    since: datetime | None = None
    status: str | None = None
    operations: tuple[str, ...] | None = None


def write_logs_statement(filters: LogFilters) -> Any:
    """Finished writes with their job, vendor, outcome and latest retry: scoped and filtered in
    the statement, before counting and paging."""
    statement = (
        select(
            WriteRequest,
            Job.state,
            Job.last_error,
            Integration.vendor,
            LOG_STATUS.label("status"),
            RETRIED_BY.label("retried_by"),
        )
        .join(Job, Job.id == WriteRequest.job_id)
        .join(Integration, Integration.id == WriteRequest.integration_id)
        .where(Job.state.in_(("succeeded", "failed")))
    )
    if filters.integration_ids is not None:
        statement = statement.where(WriteRequest.integration_id.in_(filters.integration_ids))
    if filters.integration_id:
        statement = statement.where(WriteRequest.integration_id == filters.integration_id)
    if filters.since is not None:
        statement = statement.where(WriteRequest.created_at >= filters.since)
    if filters.status:
        statement = statement.where(LOG_STATUS.in_([filters.status]))
    if filters.operations is not None:
        statement = statement.where(WriteRequest.operation.in_(filters.operations))
    return statement.order_by(WriteRequest.created_at.desc(), WriteRequest.id.desc())


# ---- Reconciliation ----------------------------------------------------------------------------


async def items_with_references(
    db: Executor, integration_id: str, references: Sequence[str]
) -> list[Any]:
    """An integration's write items carrying any of these reference numbers."""
    found: list[Any] = []
    for start in range(0, len(references), IN_CHUNK):
        rows = await db.execute(
            select(
                WriteItem.id,
                WriteItem.write_request_id,
                WriteItem.kind,
                WriteItem.x_lease_id,
                WriteItem.reference_number,
                WriteItem.amount_in_cents,
                WriteItem.status,
                WriteItem.record_id,
            )
            .join(WriteRequest, WriteRequest.id == WriteItem.write_request_id)
            .where(
                WriteRequest.integration_id == integration_id,
                WriteItem.reference_number.in_(references[start : start + IN_CHUNK]),
            )
        )
        found.extend(rows)
    return found


async def mark_posted(db: Executor, item_id: str, record_id: str) -> None:
    """An item found in the PMS's ledger as `record_id`."""
    await db.execute(
        update(WriteItem)
        .where(WriteItem.id == item_id)
        .values(status="POSTED", record_id=record_id, error=None)
    )


async def item_states(db: Executor, request_id: str) -> set[str]:
    """The distinct statuses of a write's items."""
    rows = await db.execute(
        select(WriteItem.status).where(WriteItem.write_request_id == request_id)
    )
    return set(rows.scalars())


async def clear_errors(db: Executor, request_id: str) -> None:
    """A write whose every item reached the ledger: its earlier errors no longer stand."""
    await db.execute(
        update(WriteRequest)
        .where(WriteRequest.id == request_id)
        .values(errors=[], updated_at=utcnow())
    )


async def jobs_of_writes(db: Executor, request_ids: Iterable[str]) -> list[Any]:
    """`(id, job_id, operation)` of these writes."""
    rows = await db.execute(
        select(WriteRequest.id, WriteRequest.job_id, WriteRequest.operation).where(
            WriteRequest.id.in_(sorted(request_ids))
        )
    )
    return list(rows)
