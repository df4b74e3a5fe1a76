"""Every query of the sync: stored records by natural key, inserting and updating a page of them,
`last_seen` stamps, the previous values a DATA_UPDATE reports, checkpoints and sync runs.

Generic over synced tables (each has the `SyncedRecordMixin` columns); never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from propbridge.db.bulk_insert import insert_rows
from propbridge.db.engine import Executor
from propbridge.db.synced import served_columns
from propbridge.jobs.models import Job
from propbridge.sync.models import SyncCheckpoint, SyncRun

IN_CHUNK = 500
NaturalKey = tuple[str, str]  # (x_property_id, x_id)
# The error of a run whose worker died (or hung past its lease) before ending it.
WORKER_STOPPED = "the worker running this sync stopped"


class Stored(NamedTuple):
    """What the upsert needs of a row already stored."""

    id: str
    content_hash: str
    last_seen: datetime | None
    created_at: datetime


async def existing_rows(
    db: Executor, table: Any, integration_id: str, keys: Sequence[NaturalKey]
) -> dict[NaturalKey, Stored]:
    """The stored rows of these natural keys."""
    found: dict[NaturalKey, Stored] = {}
    by_property: dict[str, list[str]] = {}
    for x_property_id, x_id in set(keys):
        by_property.setdefault(x_property_id, []).append(x_id)
    # The whole natural key in the WHERE clause, so the unique index answers each lookup.
    for x_property_id, x_ids in by_property.items():
        # A property seen for the first time (a first sync's pages) has nothing to look up.
        scope = (table.integration_id == integration_id, table.x_property_id == x_property_id)
        if (await db.execute(select(table.id).where(*scope).limit(1))).first() is None:
            continue
        x_ids.sort()
        for start in range(0, len(x_ids), IN_CHUNK):
            rows = await db.execute(
                select(
                    table.x_id, table.id, table.content_hash, table.last_seen, table.created_at
                ).where(*scope, table.x_id.in_(x_ids[start : start + IN_CHUNK]))
            )
            for x_id, *stored in rows:
                found[(x_property_id, x_id)] = Stored(*stored)
    return found


async def ids_by_pms_id(db: Executor, table: Any, integration_id: str) -> dict[str, str]:
    """Our id for each PMS id of an integration's records of one table (properties: few)."""
    rows = await db.execute(
        select(table.x_id, table.id).where(table.integration_id == integration_id)
    )
    return {x_id: row_id for x_id, row_id in rows}


async def rows_by_pms_id(
    db: Executor, integration_id: str, x_property_ids: Sequence[str], key: Any, *columns: Any
) -> dict[NaturalKey, Any]:
    """Rows of one synced table in these PMS properties, by (PMS property id, `key` column):
    how a page's records find the records they link to."""
    model = key.class_
    found: dict[NaturalKey, Any] = {}
    for x_property_id in sorted(set(x_property_ids)):
        rows = await db.execute(
            select(key, *columns).where(
                model.integration_id == integration_id, model.x_property_id == x_property_id
            )
        )
        for value, *rest in rows:
            found[(x_property_id, value)] = rest
    return found


async def write_page(
    session: AsyncSession,
    table: Any,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    unchanged_ids: list[str],
    seen_at: datetime,
) -> None:
    """New rows (with the driver's executemany or COPY), changed rows, and `last_seen` on the
    rows seen again unchanged."""
    if inserts:
        await insert_rows(await session.connection(), table.__table__, inserts)
    if updates:
        await session.execute(update(table), updates)
    for start in range(0, len(unchanged_ids), IN_CHUNK):
        await session.execute(
            update(table)
            .where(table.id.in_(unchanged_ids[start : start + IN_CHUNK]))
            .values(last_seen=seen_at)
            .execution_options(synchronize_session=False)
        )


async def current_values(db: Executor, table: Any, ids: Sequence[str]) -> dict[str, Any]:
    """The served columns of these rows as stored now (before a page changes them)."""
    previous: dict[str, Any] = {}
    for start in range(0, len(ids), IN_CHUNK):
        rows = await db.execute(
            select(*served_columns(table)).where(table.id.in_(ids[start : start + IN_CHUNK]))
        )
        for old in rows:
            previous[old.id] = old._mapping
    return previous


# ---- Checkpoints and runs -----------------------------------------------------------------------


async def checkpoint(session: AsyncSession, integration_id: str, feed: str) -> datetime | None:
    """Where the last complete read of a feed began."""
    found = await session.get(SyncCheckpoint, (integration_id, feed))
    return None if found is None else found.fetched_from


async def advance_checkpoint(
    session: AsyncSession, integration_id: str, feed: str, fetched_from: datetime, now: datetime
) -> None:
    """A feed read completely: the next incremental read may start from when this one began."""
    found = await session.get(SyncCheckpoint, (integration_id, feed))
    if found is None:
        session.add(
            SyncCheckpoint(integration_id=integration_id, feed=feed, fetched_from=fetched_from)
        )
    else:
        found.fetched_from = fetched_from
        found.updated_at = now


async def start_run(
    session: AsyncSession, integration_id: str, job_id: str, at: datetime
) -> SyncRun:
    """A new sync run's record. A run the same job left unfinished is over: the job runs
    again only once the worker of its earlier attempt has let go of it or died."""
    await end_unfinished_runs(session, job_id, at)
    run = SyncRun(integration_id=integration_id, job_id=job_id, models=[], started_at=at)
    session.add(run)
    await session.flush()
    return run


async def update_run(db: Executor, run_id: str, **values: Any) -> None:
    """Change a sync run's record (its counts as they grow, its end)."""
    await db.execute(update(SyncRun).where(SyncRun.id == run_id).values(**values))


async def end_unfinished_runs(
    db: Executor, job_id: str, at: datetime, error: str = WORKER_STOPPED
) -> None:
    """A job's runs still marked running failed: the worker that ran them is gone."""
    await db.execute(
        update(SyncRun)
        .where(SyncRun.job_id == job_id, SyncRun.state == "running")
        .values(state="failed", error=error, finished_at=at)
        .execution_options(synchronize_session=False)
    )


def runs_statement(integration_id: str) -> Any:
    """Every column of an integration's sync runs (to be ordered and paged), with what tells
    whether a run still marked running has a live worker: its job's state and lease
    (`job_state`, `job_lease_expires_at`) and whether the job has started a later run
    (`superseded`)."""
    later = aliased(SyncRun)
    superseded = exists().where(
        later.job_id == SyncRun.job_id, later.started_at > SyncRun.started_at
    )
    return (
        select(
            *SyncRun.__table__.columns,
            Job.state.label("job_state"),
            Job.lease_expires_at.label("job_lease_expires_at"),
            superseded.label("superseded"),
        )
        .outerjoin(Job, Job.id == SyncRun.job_id)
        .where(SyncRun.integration_id == integration_id)
    )


async def latest_run_of_job(db: Executor, job_id: str) -> Any | None:
    """The newest sync run a job made."""
    rows = await db.execute(
        select(*SyncRun.__table__.columns)
        .where(SyncRun.job_id == job_id)
        .order_by(SyncRun.started_at.desc())
        .limit(1)
    )
    return rows.first()


def linked(found: dict[NaturalKey, Any], record: Any, name: str | None, index: int = 0) -> Any:
    """A column of the row a record links to by PMS id (`rows_by_pms_id`); None when absent."""
    row = found.get((record.x_property_id, name or ""))
    return None if row is None else row[index]


async def latest_runs(db: Executor, integration_ids: Sequence[str]) -> dict[str, Any]:
    """Each integration's newest sync run (its state, error and times)."""
    newest = (
        select(SyncRun.integration_id, func.max(SyncRun.started_at).label("started_at"))
        .where(SyncRun.integration_id.in_(integration_ids))
        .group_by(SyncRun.integration_id)
        .subquery()
    )
    rows = await db.execute(
        select(SyncRun).join(
            newest,
            (newest.c.integration_id == SyncRun.integration_id)
            & (newest.c.started_at == SyncRun.started_at),
        )
    )
    return {run.integration_id: run for run in rows.scalars()}
