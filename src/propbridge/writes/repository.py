"""Every query of the writes domain: what a write names, the requests and their items, the job
that carries each, the write logs, and the rows reconciliation matches.

Never commits: the request or the job owns the transaction. Statements used once per charge are
built once (constructing one costs more than running it on these paths).
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import (
    JSON,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from propbridge.billing.models import ChargeCode
from propbridge.db.base import UTCDateTime, utcnow
from propbridge.db.engine import Executor
from propbridge.integrations.models import Integration
from propbridge.jobs.models import ACTIVE_STATES, Job
from propbridge.residents.models import Lease, Resident
from propbridge.writes.models import WriteItem, WriteReference, WriteRequest

# Items that did not go through: a write with any of them (or whose job failed) failed.
NOT_THROUGH_ITEM_STATES = ("REJECTED", "OUTCOME_UNKNOWN", "PENDING")
IN_CHUNK = 500


# ---- What a write names ----------------------------------------------------------------------


def _lease_of_resident(integration_id: Any) -> Any:
    """The join to the lease a resident's writes post to (their `x_lease_id`, same property)."""
    return and_(
        Lease.integration_id == integration_id,
        Lease.x_property_id == Resident.x_property_id,
        Lease.x_id == Resident.x_lease_id,
    )


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


async def write_by_id(db: Executor, request_id: str) -> WriteRequest | None:
    """A write request by its id."""
    return (
        await db.execute(select(WriteRequest).where(WriteRequest.id == request_id))
    ).scalar_one_or_none()


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

# Built once (they run for every group of writes the worker sends), on Core tables: they run on
# connections, and the updates take several rows' parameters at once (executemany).
REQUESTS: Table = WriteRequest.__table__  # type: ignore[assignment]
ITEMS: Table = WriteItem.__table__  # type: ignore[assignment]
# A write's request, its integration's connection settings and its items: one row per item.
LOAD_WRITES = (
    select(
        WriteRequest.id,
        WriteRequest.integration_id,
        WriteRequest.finished_at,
        WriteRequest.dispatched_at,
        WriteRequest.account_key.label("claimed_in"),
        Integration.account_key,
        Integration.vendor,
        Integration.base_url,
        Integration.credentials_ciphertext,
        Integration.deleted_at,
        Integration.max_request_frequency,
        Integration.max_request_cadence,
        WriteItem.position,
        WriteItem.kind,
        WriteItem.reference_number,
        WriteItem.batch_id,
        WriteItem.amount_in_cents,
        WriteItem.x_property_id,
        WriteItem.upstream,
        WriteItem.held_by_job_id,
    )
    .join(Integration, Integration.id == WriteRequest.integration_id)
    .outerjoin(WriteItem, WriteItem.write_request_id == WriteRequest.id)
    .where(WriteRequest.id.in_(bindparam("request_ids", expanding=True)))
    .order_by(WriteRequest.id, WriteItem.position)
)
SET_DISPATCHED = (
    update(REQUESTS)
    .where(REQUESTS.c.id.in_(bindparam("request_ids", expanding=True)))
    .values(dispatched_at=bindparam("b_at"))
)
ITEMS_OUTCOME = (
    update(ITEMS)
    .where(ITEMS.c.write_request_id == bindparam("b_request"))
    .values(
        status=bindparam("b_status"),
        error=bindparam("b_error"),
        accepted_at=bindparam("b_accepted_at"),
    )
)
ITEM_ERROR = (
    update(ITEMS)
    .where(
        ITEMS.c.write_request_id == bindparam("b_request"),
        ITEMS.c.position == bindparam("b_position"),
    )
    .values(error=bindparam("b_error"))
)
REQUEST_END = (
    update(REQUESTS)
    .where(REQUESTS.c.id == bindparam("b_request"))
    .values(
        errors=bindparam("b_errors"), finished_at=bindparam("b_now"), updated_at=bindparam("b_now")
    )
)


async def writes_to_send(
    db: Executor, request_ids: Sequence[str]
) -> dict[str, tuple[Any, list[Any]]]:
    """Write requests with their integration's connection settings, and their items' columns
    (in order), by request id, one query for all of them; a missing request is left out."""
    if not request_ids:
        return {}
    found: dict[str, tuple[Any, list[Any]]] = {}
    for row in await db.execute(LOAD_WRITES, {"request_ids": list(request_ids)}):
        _request, items = found.setdefault(row.id, (row, []))
        if row.position is not None:  # a request without items has one row, of nulls
            items.append(row)
    return found


async def write_to_send(db: Executor, request_id: str) -> tuple[Any, list[Any]]:
    """A write request with its integration's connection settings, and its items' columns."""
    found = (await writes_to_send(db, [request_id])).get(request_id)
    if found is None:
        raise LookupError(f"write request {request_id} is missing")
    return found


async def set_dispatched(db: Executor, request_id: str, dispatched: bool) -> None:
    """Mark (or unmark) a write as being sent: committed before the PMS is called."""
    await set_dispatched_many(db, [request_id], dispatched)


async def set_dispatched_many(db: Executor, request_ids: Sequence[str], dispatched: bool) -> None:
    """`set_dispatched` for several writes, one statement."""
    if request_ids:
        at = utcnow() if dispatched else None
        await db.execute(SET_DISPATCHED, {"request_ids": list(request_ids), "b_at": at})


@dataclass(frozen=True)
class Outcome:
    """What became of one write: every item's status and common error, the errors of the items
    the PMS named (by position), and the write's errors."""

    request_id: str
    status: str
    item_error: str | None
    item_errors: dict[int, str]
    errors: list[str]


async def record_outcome(
    db: Executor,
    request_id: str,
    status: str,
    item_error: str | None,
    item_errors: dict[int, str],
    errors: list[str],
) -> None:
    """Every item's status (with its own error where the PMS named one) and the write's end."""
    await record_outcomes(db, [Outcome(request_id, status, item_error, item_errors, errors)])


async def record_outcomes(db: Executor, outcomes: Sequence[Outcome]) -> None:
    """`record_outcome` for several writes, a statement for all of them per step."""
    if not outcomes:
        return
    now = utcnow()
    await db.execute(
        ITEMS_OUTCOME,
        [
            {
                "b_request": o.request_id,
                "b_status": o.status,
                "b_error": o.item_error,
                "b_accepted_at": now if o.status == "ACCEPTED" else None,
            }
            for o in outcomes
        ],
    )
    named = [
        {"b_request": o.request_id, "b_position": position, "b_error": error}
        for o in outcomes
        for position, error in o.item_errors.items()
    ]
    if named:
        await db.execute(ITEM_ERROR, named)
    await db.execute(
        REQUEST_END,
        [{"b_request": o.request_id, "b_errors": o.errors, "b_now": now} for o in outcomes],
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
# A write's outcome in one word, in SQL: PENDING while its job may still run, then as
# `presenters.overall_status` decides for logs, from its items alone (any item that did not go
# through: FAILURE). A write whose answer was lost fails its job, and turns SUCCESS when a sync
# finds its transactions.
WRITE_STATUS = case(
    (Job.state.in_(ACTIVE_STATES), "PENDING"),
    (FAILED, "FAILURE"),
    else_="SUCCESS",
)
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
    before: datetime | None = None
    finished_only: bool = True  # Propexo's write logs list finished writes only
    item_status: str | None = None  # writes with at least one item in this state


def write_logs_statement(filters: LogFilters) -> Any:
    """Finished writes with their job, vendor, outcome and latest retry: scoped and filtered in
    the statement, before counting and paging."""
    statement = (
        select(
            WriteRequest,
            Job.state,
            Job.last_error,
            Integration.vendor,
            WRITE_STATUS.label("status"),
            RETRIED_BY.label("retried_by"),
        )
        .join(Job, Job.id == WriteRequest.job_id)
        .join(Integration, Integration.id == WriteRequest.integration_id)
    )
    return _filtered(statement, filters).order_by(
        WriteRequest.created_at.desc(), WriteRequest.id.desc()
    )


def _filtered(statement: Any, filters: LogFilters) -> Any:
    if filters.finished_only:
        statement = statement.where(Job.state.in_(("succeeded", "failed")))
    if filters.integration_ids is not None:
        statement = statement.where(WriteRequest.integration_id.in_(filters.integration_ids))
    if filters.integration_id:
        statement = statement.where(WriteRequest.integration_id == filters.integration_id)
    if filters.since is not None:
        statement = statement.where(WriteRequest.created_at >= filters.since)
    if filters.status:
        statement = statement.where(WRITE_STATUS.in_([filters.status]))
    if filters.operations is not None:
        statement = statement.where(WriteRequest.operation.in_(filters.operations))
    if filters.before is not None:
        statement = statement.where(WriteRequest.created_at < filters.before)
    if filters.item_status is not None:
        statement = statement.where(
            exists().where(
                WriteItem.write_request_id == WriteRequest.id,
                WriteItem.status == filters.item_status,
            )
        )
    return statement


async def item_counts(db: Executor, request_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """How many items of each of these writes are in each state."""
    counts: dict[str, dict[str, int]] = {request_id: {} for request_id in request_ids}
    if request_ids:
        rows = await db.execute(
            select(WriteItem.write_request_id, WriteItem.status, func.count())
            .where(WriteItem.write_request_id.in_(request_ids))
            .group_by(WriteItem.write_request_id, WriteItem.status)
        )
        for request_id, status, count in rows:
            counts[request_id][status] = count
    return counts


async def writes_per_day(db: Executor, filters: LogFilters) -> list[tuple[str, str, int]]:
    """(day, status, count) of the writes the filters admit, by the day they were made."""
    day = func.date(WriteRequest.created_at)
    statement = select(day, WRITE_STATUS, func.count()).join(Job, Job.id == WriteRequest.job_id)
    rows = await db.execute(_filtered(statement, filters).group_by(day, WRITE_STATUS))
    return [(str(when), status, count) for when, status, count in rows]


# ---- Reconciliation ----------------------------------------------------------------------------


async def account_of(db: Executor, integration_id: str) -> str | None:
    """The key of the PMS account an integration acts on."""
    key: str | None = (
        await db.execute(select(Integration.account_key).where(Integration.id == integration_id))
    ).scalar()
    return key


async def reference_holders(
    db: Executor, account_key: str, references: Sequence[str]
) -> dict[str, str]:
    """The job of the write holding each of these normalized references in an account."""
    found: dict[str, str] = {}
    for start in range(0, len(references), IN_CHUNK):
        rows = await db.execute(
            select(WriteReference.reference, WriteReference.job_id).where(
                WriteReference.account_key == account_key,
                WriteReference.reference.in_(references[start : start + IN_CHUNK]),
            )
        )
        found.update({reference: job_id for reference, job_id in rows})
    return found


ROOT = aliased(WriteRequest)
WRITER = aliased(Integration)


async def chain_items(
    db: Executor, integration_id: str, account_key: str, holder_jobs: Sequence[str]
) -> list[Any]:
    """The items of the writes whose jobs hold references in an account and of every retry of
    them, each with its write's job, when it was made and its chain's holder: those this
    integration sent, and those whose integration no longer reads the account (deleted, or
    pointed at another account), which any integration of the account may now credit. (Record
    ids are per integration: a write whose own integration still syncs the account is credited
    by it.)"""
    found: list[Any] = []
    own_or_orphaned = or_(
        ROOT.integration_id == integration_id,
        WRITER.deleted_at.is_not(None),
        WRITER.account_key != account_key,
    )
    for start in range(0, len(holder_jobs), IN_CHUNK):
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
                WriteItem.upstream,
                WriteRequest.created_at,
                ROOT.job_id.label("holder"),
            )
            .join(WriteRequest, WriteRequest.id == WriteItem.write_request_id)
            .join(ROOT, or_(ROOT.id == WriteRequest.id, ROOT.id == WriteRequest.retry_root))
            .join(WRITER, WRITER.id == ROOT.integration_id)
            .where(ROOT.job_id.in_(holder_jobs[start : start + IN_CHUNK]), own_or_orphaned)
        )
        found.extend(rows)
    return found


async def mark_posted(db: Executor, item_id: str, record_id: str, at: datetime) -> None:
    """An item found in the PMS's ledger as `record_id`."""
    await db.execute(
        update(WriteItem)
        .where(WriteItem.id == item_id)
        .values(status="POSTED", record_id=record_id, error=None, posted_at=at)
    )


async def overdue_items(db: Executor, integration_id: str, accepted_before: datetime) -> list[Any]:
    """An integration's items waiting in the PMS's approval queue since before a moment, with
    their write's job and operation."""
    rows = await db.execute(
        select(
            WriteItem.id,
            WriteItem.position,
            WriteItem.reference_number,
            WriteItem.accepted_at,
            WriteRequest.job_id,
            WriteRequest.operation,
        )
        .join(WriteRequest, WriteRequest.id == WriteItem.write_request_id)
        .where(
            WriteRequest.integration_id == integration_id,
            WriteItem.status == "ACCEPTED",
            WriteItem.accepted_at <= accepted_before,
        )
        .order_by(WriteItem.accepted_at, WriteItem.id)
    )
    return list(rows)


async def mark_unconfirmed(db: Executor, item_ids: Sequence[str], at: datetime) -> None:
    """Items syncs have not found in the ledger for too long after the PMS took them."""
    for start in range(0, len(item_ids), IN_CHUNK):
        await db.execute(
            update(WriteItem)
            .where(
                WriteItem.id.in_(item_ids[start : start + IN_CHUNK]),
                WriteItem.status == "ACCEPTED",
            )
            .values(status="UNCONFIRMED", unconfirmed_at=at)
        )


async def held_items(db: Executor, limit: int) -> tuple[int, list[Any]]:
    """How many items another write of their PMS account holds the reference of (the upgrade to
    per-account claims found them), and the first `limit` of them with their write."""
    held = WriteItem.held_by_job_id.is_not(None)
    total = (await db.execute(select(func.count()).where(held))).scalar_one()
    rows = await db.execute(
        select(
            WriteRequest.job_id,
            WriteRequest.integration_id,
            WriteItem.position,
            WriteItem.reference_number,
            WriteItem.status,
            WriteItem.held_by_job_id,
        )
        .join(WriteRequest, WriteRequest.id == WriteItem.write_request_id)
        .where(held)
        .order_by(WriteRequest.created_at, WriteItem.position)
        .limit(limit)
    )
    return int(total), list(rows)


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


# ---- The group commit, on the driver alone -----------------------------------------------------
#
# The recorder runs a handful of statements per batch of accepted writes: the lookups of the
# single charges and payments in it, the dedupe keys, the inserts. Through SQLAlchemy each one paid
# for an execution context, bind and result processing and, on SQLite, four hand-offs to
# aiosqlite's thread (cursor, execute, fetch, close): more than the statements themselves, and at a
# few writes per batch a large share of every request. These go to the driver connection under the
# caller's SQLAlchemy connection (its pool, its transaction, on SQLite its write lock), one
# hand-off or round trip each, as SQL written once per engine.


class WriteConflict(Exception):
    """An insert broke a constraint: most likely a dedupe key another process took in between."""


class WriteRefused(Exception):
    """The database refused a row's values (a number beyond its column's range)."""


class ResidentTarget(NamedTuple):
    """A resident as a write needs it: their integration and property, the lease writes post
    to (its ResMan id and unit) and their name."""

    id: str
    integration_id: str
    property_id: str | None
    x_property_id: str
    lease_x_id: str | None
    unit_number: str | None
    first_name: str | None
    last_name: str | None


class CodeTarget(NamedTuple):
    """A charge code as a write needs it."""

    id: str
    integration_id: str
    property_id: str | None
    category_type: str | None
    code: str | None


def _json_text(value: Any) -> str:
    """As the JSON columns store values (`db.engine`'s serialiser: orjson, decimals as text)."""
    return orjson.dumps(value, default=str).decode()


class Driver:
    """The driver connection (aiosqlite's or asyncpg's) under a SQLAlchemy connection, with the
    few operations the group commit needs."""

    def __init__(self, connection: Any, sqlite: bool) -> None:
        self.connection = connection
        self.sqlite = sqlite

    @classmethod
    async def of(cls, db: Source) -> Driver:
        """The driver connection under a session or connection (or `db` itself)."""
        if isinstance(db, Driver):
            return db
        connection = await db.connection() if isinstance(db, AsyncSession) else db
        raw = await connection.get_raw_connection()
        return cls(raw.driver_connection, connection.dialect.name == "sqlite")

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        """The transaction the block's statements share. On SQLite, the caller's (its write
        connection began with `BEGIN IMMEDIATE` and commits when its block ends). On PostgreSQL,
        asyncpg's own, unless one is open: SQLAlchemy's adapter begins lazily, at its first
        statement, and none of its statements runs here (its commit is then a no-op)."""
        if self.sqlite or self.connection.is_in_transaction():
            return contextlib.nullcontext()
        transaction: AbstractAsyncContextManager[Any] = self.connection.transaction()
        return transaction

    async def rows(self, sql: str, values: Sequence[Any]) -> list[Sequence[Any]]:
        """The rows of one statement (`?` placeholders on SQLite, `$n` on PostgreSQL)."""
        if self.sqlite:
            return list(await self.connection.execute_fetchall(sql, values))
        return list(await self.connection.fetch(sql, *values))

    async def rows_for_keys(
        self, template: str, key_lists: Sequence[Iterable[str]]
    ) -> list[Sequence[Any]]:
        """The rows of a statement whose `{0}`, `{1}`, … each stand for `IN` one list of keys."""
        lists = [sorted(set(keys)) for keys in key_lists]
        if self.sqlite:
            sql = _keys_in(template, tuple(len(keys) for keys in lists))
            return await self.rows(sql, [key for keys in lists for key in keys])
        sql = template.format(*(f"= ANY(${n}::varchar[])" for n in range(1, len(lists) + 1)))
        return await self.rows(sql, lists)

    async def insert_many(self, insert: _Insert, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows (dicts by column name) in one statement run for each."""
        if not rows:
            return
        values = [insert.values(row, self.sqlite) for row in rows]
        try:
            await self.connection.executemany(insert.sql[self.sqlite], values)
        except (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError) as error:
            raise WriteConflict(str(error)) from error
        except (sqlite3.DataError, asyncpg.DataError) as error:
            raise WriteRefused(str(error)) from error


# A session, a connection, or the driver connection under one.
Source = Executor | Driver


@functools.lru_cache(maxsize=256)
def _keys_in(template: str, counts: tuple[int, ...]) -> str:
    """SQLite's text of a statement for lists of these lengths (an empty `IN ()` matches
    nothing)."""
    return template.format(*(f"IN ({', '.join('?' * count)})" for count in counts))


@functools.lru_cache(maxsize=16)
def _moment(value: datetime) -> str:
    """A timestamp as SQLAlchemy stores it in SQLite: naive UTC text with microseconds
    (memoised: the rows of a batch share an instant or two)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", timespec="microseconds")


class _Insert:
    """An INSERT of some of a table's columns, for both engines, and how each value is sent:
    JSON columns as text, timestamps as SQLite's text or PostgreSQL's timestamps."""

    def __init__(self, model: Any, columns: Sequence[str]) -> None:
        table = model.__table__
        self.columns = tuple(columns)
        marks = ", ".join("?" * len(self.columns))
        numbered = ", ".join(f"${n}" for n in range(1, len(self.columns) + 1))
        # Names come from the model and this module, never from a request; values are parameters.
        head = f"INSERT INTO {table.name} ({', '.join(self.columns)}) VALUES "  # noqa: S608
        # Indexed by "is SQLite": the statement each driver takes.
        self.sql = (head + f"({numbered})", head + f"({marks})")
        json = {c for c in self.columns if isinstance(table.c[c].type, JSON)}
        moments = {c for c in self.columns if isinstance(table.c[c].type, UTCDateTime)}
        # Each column with how its value is sent, per engine (None: as it is).
        self.plans: tuple[tuple[tuple[str, Converter | None], ...], ...] = tuple(
            tuple(
                (c, _json_text if c in json else _moment if sqlite and c in moments else None)
                for c in self.columns
            )
            for sqlite in (False, True)
        )

    def values(self, row: dict[str, Any], sqlite: bool) -> tuple[Any, ...]:
        """A row's values in column order, as the engine's driver takes them."""
        out = []
        for name, convert in self.plans[sqlite]:
            value = row[name]
            out.append(value if convert is None or value is None else convert(value))
        return tuple(out)


Converter = Callable[[Any], Any]


# Every column of the new rows; those left out are nullable with no default (a test checks).
INSERT_REQUEST = _Insert(
    WriteRequest,
    (
        "id",
        "integration_id",
        "account_key",
        "operation",
        "request_body",
        "body_hash",
        "dedupe_key",
        "job_id",
        "errors",
        "retry_of",
        "retry_root",
        "created_at",
        "updated_at",
    ),
)
# What an item of a write carries from its request (a retry copies these from the write it
# retries); the rest of its row is its id, its write and its status.
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
INSERT_ITEM = _Insert(WriteItem, ("id", "write_request_id", "status", *ITEM_FIELDS))
INSERT_JOB = _Insert(
    Job,
    (
        "id",
        "kind",
        "integration_id",
        "concurrency_key",
        "payload",
        "state",
        "attempt",
        "max_attempts",
        "run_after",
        "created_at",
        "updated_at",
    ),
)

INSERT_REFERENCE = _Insert(WriteReference, ("account_key", "reference", "job_id"))

# Everything a batch of writes reads, in one statement (each statement is a hand-off or round
# trip the whole batch waits for): live integrations' vendors, residents with the lease their
# writes post to (their `x_lease_id` in the same integration and property), charge codes, and
# the writes already recorded under the batch's dedupe keys, and the writes that first used its
# references, in any account (a reference is rarely used in several: those of other accounts
# are left out by the caller, which knows the integrations' accounts from this same statement).
# One row shape for all five, told apart by the first column.
BATCH_TARGETS = (
    "SELECT 'integration', id, vendor, account_key, NULL, NULL, NULL, NULL, NULL FROM integrations "
    "WHERE deleted_at IS NULL AND id {0} "
    "UNION ALL SELECT 'resident', r.id, r.integration_id, r.property_id, r.x_property_id, "
    "l.x_id, l.unit_number, r.first_name, r.last_name FROM residents r LEFT JOIN leases l "
    "ON l.integration_id = r.integration_id AND l.x_property_id = r.x_property_id "
    "AND l.x_id = r.x_lease_id WHERE r.id {1} "
    "UNION ALL SELECT 'code', id, integration_id, property_id, category_type, code, NULL, NULL, "
    "NULL FROM charge_codes WHERE id {2} "
    "UNION ALL SELECT 'write', dedupe_key, job_id, body_hash, CAST(request_body AS TEXT), NULL, "
    "NULL, NULL, NULL FROM write_requests WHERE dedupe_key {3} "
    "UNION ALL SELECT 'reference', reference, job_id, account_key, NULL, NULL, NULL, NULL, NULL "
    "FROM write_references WHERE reference {4}"
)


@dataclass(frozen=True)
class BatchTargets:
    """What a batch of writes names and the writes recorded before under its dedupe keys."""

    vendors: dict[str, str]  # live integrations only
    accounts: dict[str, str]  # their PMS accounts' keys
    residents: dict[str, ResidentTarget]  # by id, whatever their integration
    codes: dict[str, CodeTarget]  # by id, whatever their integration
    seen: dict[str, SeenWrite]  # by dedupe key
    # The job of the write that first used each (account key, normalized reference).
    claimed: dict[tuple[str, str], str]


async def batch_targets(
    db: Source,
    integration_ids: Iterable[str],
    resident_ids: Iterable[str],
    code_ids: Iterable[str],
    dedupe_keys: Iterable[str],
    references: Iterable[str],
) -> BatchTargets:
    """Everything a batch of writes reads, in one statement (`references` normalized)."""
    driver = await Driver.of(db)
    key_lists = (integration_ids, resident_ids, code_ids, dedupe_keys, references)
    found = BatchTargets({}, {}, {}, {}, {}, {})
    for kind, key, *rest in await driver.rows_for_keys(BATCH_TARGETS, key_lists):
        if kind == "integration":
            found.vendors[key] = rest[0]
            found.accounts[key] = rest[1]
        elif kind == "resident":
            found.residents[key] = ResidentTarget(key, *rest)
        elif kind == "code":
            found.codes[key] = CodeTarget(key, *rest[:4])
        elif kind == "reference":
            found.claimed[(rest[1], key)] = rest[0]
        else:
            found.seen[key] = SeenWrite(rest[0], rest[1], orjson.loads(rest[2]))
    return found


async def record_writes(
    db: Source,
    requests: list[dict[str, Any]],
    items: list[dict[str, Any]],
    jobs: list[dict[str, Any]],
    references: list[dict[str, Any]],
) -> None:
    """New write requests, their items, their jobs and the references they claim, in the
    caller's transaction; `WriteConflict` when a constraint stops them (a dedupe key or a
    reference taken meanwhile), `WriteRefused` when the database cannot hold a value."""
    if requests:
        driver = await Driver.of(db)
        await driver.insert_many(INSERT_REQUEST, requests)
        await driver.insert_many(INSERT_ITEM, items)
        await driver.insert_many(INSERT_JOB, jobs)
        await driver.insert_many(INSERT_REFERENCE, references)
