"""The queue's operations: enqueue in the caller's transaction, claim, finish, retry, reap.

Works on SQLite (one writer at a time, inside BEGIN IMMEDIATE) and PostgreSQL (FOR UPDATE
SKIP LOCKED). Never commits: callers pass the session of their own unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from propbridge.db.base import utcnow
from propbridge.db.engine import Executor
from propbridge.db.ids import new_id
from propbridge.jobs.models import ACTIVE_STATES, Job, JobAttempt


@dataclass(frozen=True)
class ClaimedJob:
    """A snapshot of a job a worker now holds."""

    id: str
    kind: str
    integration_id: str | None
    payload: dict[str, Any]
    attempt: int
    max_attempts: int


def new_job_row(
    kind: str,
    payload: Mapping[str, object],
    *,
    integration_id: str | None = None,
    concurrency_key: str | None = None,
    max_attempts: int = 5,
    run_after: datetime | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    """The column values of a new queued job (for `enqueue`, or a caller's own bulk insert)."""
    now = utcnow()
    return {
        "id": job_id or new_id(),
        "kind": kind,
        "integration_id": integration_id,
        "concurrency_key": concurrency_key,
        "payload": dict(payload),
        "state": "queued",
        "attempt": 0,
        "max_attempts": max_attempts,
        "run_after": run_after or now,
        "created_at": now,
        "updated_at": now,
    }


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: Mapping[str, object],
    *,
    integration_id: str | None = None,
    concurrency_key: str | None = None,
    max_attempts: int = 5,
    run_after: datetime | None = None,
    job_id: str | None = None,
) -> Job:
    """Add a job. With a `concurrency_key` already active, the active job is returned instead."""
    if concurrency_key is not None:
        existing = await active_job(session, concurrency_key)
        if existing is not None:
            return existing
    job = Job(
        **new_job_row(
            kind,
            payload,
            integration_id=integration_id,
            concurrency_key=concurrency_key,
            max_attempts=max_attempts,
            run_after=run_after,
            job_id=job_id,
        )
    )
    if concurrency_key is None:
        session.add(job)
        await session.flush()
        return job
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:
        existing = await active_job(session, concurrency_key)
        if existing is None:
            raise
        return existing
    return job


async def active_job(session: AsyncSession, concurrency_key: str) -> Job | None:
    """The queued or running job holding a concurrency key."""
    return (
        await session.execute(
            select(Job).where(Job.concurrency_key == concurrency_key, Job.state.in_(ACTIVE_STATES))
        )
    ).scalar_one_or_none()


# Any fixed number: the advisory lock that makes claims count running jobs one at a time.
CLAIM_LOCK = 7_140_001


# Each integration's cap on running jobs (by integration id); the queue itself knows no
# integrations, the application supplies this.
ConcurrencyLimits = Callable[[AsyncSession, list[str]], Awaitable[dict[str, int]]]


async def claim(
    session: AsyncSession,
    worker: str,
    limit: int,
    lease: timedelta,
    only_id: str | None = None,
    limits: ConcurrencyLimits | None = None,
) -> list[ClaimedJob]:
    """Take up to `limit` due jobs, mark them running under a lease, and log an attempt each.

    With `limits`, an integration never has more jobs running than its cap, counted over every
    worker process: on PostgreSQL claims take a transaction-level advisory lock, so they count
    one after the other (SQLite writers are serial anyway).
    """
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    if postgres:
        await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
    now = utcnow()  # after the lock: a claim that waited starts its lease when it gets the jobs
    candidates = (
        select(Job.id, Job.integration_id)
        .where(Job.state == "queued", Job.run_after <= now)
        .order_by(Job.run_after, Job.id)
        .limit(limit * 4)
    )
    if only_id is not None:
        candidates = candidates.where(Job.id == only_id)
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    rows = list(await session.execute(candidates))
    chosen = await _within_concurrency(session, rows, limit, limits)
    if not chosen:
        return []
    result = await session.execute(
        update(Job)
        .where(Job.id.in_(chosen))
        .values(
            state="running",
            attempt=Job.attempt + 1,
            locked_by=worker,
            lease_expires_at=now + lease,
            updated_at=now,
        )
        .returning(Job.id, Job.kind, Job.integration_id, Job.payload, Job.attempt, Job.max_attempts)
        .execution_options(synchronize_session=False)
    )
    claimed = [ClaimedJob(*row) for row in result.all()]
    for job in claimed:
        session.add(JobAttempt(job_id=job.id, attempt=job.attempt, worker=worker, started_at=now))
    return claimed


async def _within_concurrency(
    session: AsyncSession, rows: list[Any], limit: int, limits: ConcurrencyLimits | None
) -> list[str]:
    """The candidates that fit their integration's free job slots, oldest first."""
    if limits is None:
        return [row.id for row in rows][:limit]
    integration_ids = sorted({row.integration_id for row in rows if row.integration_id})
    running: dict[str, int] = {}
    caps: dict[str, int] = {}
    if integration_ids:
        counted = await session.execute(
            select(Job.integration_id, func.count())
            .where(Job.state == "running", Job.integration_id.in_(integration_ids))
            .group_by(Job.integration_id)
        )
        running = {str(integration_id): int(n) for integration_id, n in counted}
        caps = await limits(session, integration_ids)
    chosen: list[str] = []
    for row in rows:
        if row.integration_id:
            used = running.get(row.integration_id, 0)
            if used >= caps.get(row.integration_id, used + 1):
                continue
            running[row.integration_id] = used + 1
        chosen.append(row.id)
        if len(chosen) == limit:
            break
    return chosen


async def _close_attempt(
    session: AsyncSession | AsyncConnection,
    job_id: str,
    attempt: int,
    outcome: str,
    error: str | None,
) -> None:
    await session.execute(
        update(JobAttempt)
        .where(JobAttempt.job_id == job_id, JobAttempt.attempt == attempt)
        .values(finished_at=utcnow(), outcome=outcome, error=error)
    )


async def _finish(
    session: Executor, job: ClaimedJob, state: str, result: dict[str, Any] | None, error: str | None
) -> None:
    now = utcnow()
    await session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(
            state=state,
            result=result,
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
            locked_by=None,
            last_error=error,
        )
    )
    await _close_attempt(session, job.id, job.attempt, state, error)


async def mark_succeeded(
    session: Executor, job: ClaimedJob, result: dict[str, Any] | None = None
) -> None:
    """Finish a job well, in the caller's transaction (the one that records its effects)."""
    await _finish(session, job, "succeeded", result, None)


async def mark_failed(session: Executor, job: ClaimedJob, error: str) -> None:
    """Finish a job for good."""
    await _finish(session, job, "failed", None, error)


async def schedule_retry(
    session: AsyncSession | AsyncConnection, job: ClaimedJob, error: str, delay: float
) -> None:
    """Put a job back in the queue to run after `delay` seconds."""
    now = utcnow()
    await session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(
            state="queued",
            run_after=now + timedelta(seconds=delay),
            updated_at=now,
            lease_expires_at=None,
            locked_by=None,
            last_error=error,
        )
    )
    await _close_attempt(session, job.id, job.attempt, "retry", error)


async def extend_leases(
    session: AsyncSession, worker: str, job_ids: list[str], lease: timedelta
) -> None:
    """Heartbeat: the jobs this worker still runs keep their lease."""
    if job_ids:
        await session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.locked_by == worker, Job.state == "running")
            .values(lease_expires_at=utcnow() + lease)
        )


async def expired_jobs(session: AsyncSession) -> list[ClaimedJob]:
    """Running jobs whose worker stopped heart-beating (it crashed or hung), locked until the
    caller's transaction ends (PostgreSQL), so that another reaper or `abandon_expired` cannot
    end one while this caller re-queues it."""
    rows = (
        await session.execute(
            select(Job)
            .where(Job.state == "running", Job.lease_expires_at < utcnow())
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    return [
        ClaimedJob(j.id, j.kind, j.integration_id, j.payload, j.attempt, j.max_attempts)
        for j in rows
    ]


async def abandon_expired(session: AsyncSession, job_id: str, error: str) -> bool:
    """End a running job for good if its lease has run out (its worker is gone); True when
    this call ended it. A worker that renewed the lease in time, or a reaper that re-queued the
    job first, leaves nothing to do: the check and the change are one statement."""
    now = utcnow()
    ended = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "running", Job.lease_expires_at < now)
        .values(
            state="failed",
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
            locked_by=None,
            last_error=error,
        )
        .returning(Job.attempt)
        .execution_options(synchronize_session=False)
    )
    attempt = ended.scalar_one_or_none()
    if attempt is None:
        return False
    await _close_attempt(session, job_id, int(attempt), "failed", error)
    return True
