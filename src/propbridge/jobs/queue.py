"""The queue's operations: enqueue in the caller's transaction, claim, finish, retry, reap.

Works on SQLite (one writer at a time, inside BEGIN IMMEDIATE) and PostgreSQL (FOR UPDATE
SKIP LOCKED). Never commits: callers pass the session of their own unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
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
    # What the job's handler prepared for it in the claim's transaction (`ClaimHook`), if any.
    prepared: Any = field(default=None, compare=False, repr=False)


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


# Statements run for every job, built once (building one costs more than running it). Core
# tables, not ORM entities: they run on connections, several rows at a time (executemany).
JOBS: Table = Job.__table__  # type: ignore[assignment]
ATTEMPTS: Table = JobAttempt.__table__  # type: ignore[assignment]
# For jobs that end without a result (as `_finish` writes None: the JSON column's null).
FINISH_WITHOUT_RESULT = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        result=None,
        finished_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        lease_expires_at=None,
        locked_by=None,
        last_error=bindparam("b_error"),
    )
)
CLOSE_ATTEMPT = (
    update(ATTEMPTS)
    .where(ATTEMPTS.c.job_id == bindparam("b_id"), ATTEMPTS.c.attempt == bindparam("b_attempt"))
    .values(
        finished_at=bindparam("b_now"), outcome=bindparam("b_outcome"), error=bindparam("b_error")
    )
)
LOG_ATTEMPT = insert(ATTEMPTS)

# Any fixed number: the advisory lock that makes claims count running jobs one at a time.
CLAIM_LOCK = 7_140_001


# Each integration's cap on running jobs (by integration id); the queue itself knows no
# integrations, the application supplies this.
ConcurrencyLimits = Callable[[AsyncSession, list[str]], Awaitable[dict[str, int]]]


# The claim's statements, built once (a busy worker claims after every group of jobs that end).
CANDIDATES = (
    select(JOBS.c.id, JOBS.c.integration_id)
    .where(JOBS.c.state == "queued", JOBS.c.run_after <= bindparam("b_now"))
    .order_by(JOBS.c.run_after, JOBS.c.id)
    .limit(bindparam("b_limit"))
)
# PostgreSQL: candidates other claims hold are skipped, not waited for.
CANDIDATES_UNLOCKED = CANDIDATES.with_for_update(skip_locked=True)
RUNNING_PER_INTEGRATION = (
    select(JOBS.c.integration_id, func.count())
    .where(
        JOBS.c.state == "running",
        JOBS.c.integration_id.in_(bindparam("b_integrations", expanding=True)),
    )
    .group_by(JOBS.c.integration_id)
)
TAKE = (
    update(JOBS)
    .where(JOBS.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(
        state="running",
        attempt=JOBS.c.attempt + 1,
        locked_by=bindparam("b_worker"),
        lease_expires_at=bindparam("b_lease"),
        updated_at=bindparam("b_now"),
    )
    .returning(
        JOBS.c.id,
        JOBS.c.kind,
        JOBS.c.integration_id,
        JOBS.c.payload,
        JOBS.c.attempt,
        JOBS.c.max_attempts,
    )
)
CLAIM_LOCK_STATEMENT = select(func.pg_advisory_xact_lock(CLAIM_LOCK))


async def claim(
    db: Executor,
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
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        await db.execute(CLAIM_LOCK_STATEMENT)
    now = utcnow()  # after the lock: a claim that waited starts its lease when it gets the jobs
    candidates: Any = CANDIDATES_UNLOCKED if postgres else CANDIDATES
    if only_id is not None:
        candidates = candidates.where(JOBS.c.id == only_id)
    rows = list(await db.execute(candidates, {"b_now": now, "b_limit": limit * 4}))
    chosen = await _within_concurrency(db, rows, limit, limits)
    if not chosen:
        return []
    result = await db.execute(
        TAKE, {"b_ids": chosen, "b_worker": worker, "b_lease": now + lease, "b_now": now}
    )
    claimed = [ClaimedJob(*row) for row in result.all()]
    if claimed:
        # One statement for the batch (the ORM's unit of work would cost more than the claim).
        await db.execute(
            LOG_ATTEMPT,
            [
                {"job_id": job.id, "attempt": job.attempt, "worker": worker, "started_at": now}
                for job in claimed
            ],
        )
    return claimed


async def _within_concurrency(
    db: Executor, rows: list[Any], limit: int, limits: ConcurrencyLimits | None
) -> list[str]:
    """The candidates that fit their integration's free job slots, oldest first."""
    if limits is None:
        return [row.id for row in rows][:limit]
    integration_ids = sorted({row.integration_id for row in rows if row.integration_id})
    running: dict[str, int] = {}
    caps: dict[str, int] = {}
    if integration_ids:
        counted = await db.execute(RUNNING_PER_INTEGRATION, {"b_integrations": integration_ids})
        running = {str(integration_id): int(n) for integration_id, n in counted}
        if isinstance(db, AsyncSession):
            caps = await limits(db, integration_ids)
        else:
            # The limits are the application's, asked through a session: one on this
            # connection joins its transaction.
            async with AsyncSession(bind=db) as session:
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


async def finish_many(db: Executor, endings: Sequence[tuple[ClaimedJob, str, str | None]]) -> None:
    """End several jobs (each `(job, state, error)`, no result) and close their attempts, a
    statement for all of them, in the caller's transaction."""
    if not endings:
        return
    now = utcnow()
    await db.execute(
        FINISH_WITHOUT_RESULT,
        [
            {"b_id": job.id, "b_state": state, "b_now": now, "b_error": error}
            for job, state, error in endings
        ],
    )
    await db.execute(
        CLOSE_ATTEMPT,
        [
            {
                "b_id": job.id,
                "b_attempt": job.attempt,
                "b_now": now,
                "b_outcome": state,
                "b_error": error,
            }
            for job, state, error in endings
        ],
    )


async def _finish(
    session: Executor, job: ClaimedJob, state: str, result: dict[str, Any] | None, error: str | None
) -> None:
    if result is None:
        await finish_many(session, [(job, state, error)])
        return
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


# ---- What operators see -------------------------------------------------------------------------

# A worker that started an attempt this recently counts as seen.
WORKER_SEEN_WITHIN = timedelta(minutes=10)


@dataclass(frozen=True)
class QueueHealth:
    """The queue at a glance: waiting and running jobs by kind, the oldest waiting job, and
    the workers that started attempts lately."""

    queued: dict[str, int]
    running: dict[str, int]
    oldest_queued_at: datetime | None
    oldest_queued_kind: str | None
    workers: list[str]


async def queue_health(db: Executor) -> QueueHealth:
    """How deep the queue is, and who is working it (read from the jobs and their attempts)."""
    counts = await db.execute(
        select(Job.kind, Job.state, func.count())
        .where(Job.state.in_(ACTIVE_STATES))
        .group_by(Job.kind, Job.state)
    )
    queued: dict[str, int] = {}
    running: dict[str, int] = {}
    for kind, state, count in counts:
        (queued if state == "queued" else running)[kind] = count
    oldest = (
        await db.execute(
            select(Job.created_at, Job.kind)
            .where(Job.state == "queued")
            .order_by(Job.created_at)
            .limit(1)
        )
    ).first()
    seen = await db.execute(
        select(JobAttempt.worker)
        .where(JobAttempt.started_at >= utcnow() - WORKER_SEEN_WITHIN)
        .union(select(Job.locked_by).where(Job.state == "running", Job.locked_by.is_not(None)))
    )
    return QueueHealth(
        queued,
        running,
        oldest[0] if oldest else None,
        oldest[1] if oldest else None,
        sorted(str(worker) for (worker,) in seen),
    )
