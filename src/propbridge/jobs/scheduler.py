"""Turns due schedules into jobs. The next run is set by the job when it finishes.

Knows the `schedules` table and the queue; nothing about what the jobs do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.base import utcnow
from propbridge.db.engine import Executor
from propbridge.jobs import queue
from propbridge.jobs.models import Schedule

if TYPE_CHECKING:
    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

# If a scheduled job is lost, the schedule fires again after this long anyway.
STALL_GUARD = timedelta(hours=24)
# The longest a schedule may wait between runs: a year. (Longer ones would overflow the dates
# of their next runs; who wants none can set the integration inactive.)
MAX_INTERVAL_SECONDS = 365 * 86400


async def upsert_schedule(
    session: AsyncSession,
    integration_id: str | None,
    kind: str,
    interval_seconds: int,
    active: bool,
    first_run_in: float = 0,
) -> None:
    """Create or change the recurring job of one kind for one integration (None: for the whole
    deployment). Callers hold intervals to `MAX_INTERVAL_SECONDS`."""
    if not 0 < interval_seconds <= MAX_INTERVAL_SECONDS:
        raise ValueError(f"a schedule's interval must be 1 to {MAX_INTERVAL_SECONDS} seconds")
    schedule = (
        await session.execute(select(Schedule).where(_owner(integration_id), Schedule.kind == kind))
    ).scalar_one_or_none()
    if schedule is None:
        session.add(
            Schedule(
                integration_id=integration_id,
                kind=kind,
                interval_seconds=interval_seconds,
                active=active,
                next_run_at=utcnow() + timedelta(seconds=first_run_in),
            )
        )
        return
    schedule.interval_seconds = interval_seconds
    schedule.active = active
    schedule.updated_at = utcnow()


def _owner(integration_id: str | None) -> Any:
    if integration_id is None:
        return Schedule.integration_id.is_(None)
    return Schedule.integration_id == integration_id


async def run_finished(session: AsyncSession, integration_id: str | None, kind: str) -> None:
    """A scheduled kind of job ended: the next run is one interval from now."""
    schedule = (
        await session.execute(select(Schedule).where(_owner(integration_id), Schedule.kind == kind))
    ).scalar_one_or_none()
    if schedule is not None:
        schedule.next_run_at = utcnow() + timedelta(seconds=schedule.interval_seconds)
        schedule.updated_at = utcnow()


async def enqueue_due(runtime: Runtime) -> int:
    """Enqueue one job per due schedule; returns how many schedules fired."""
    fired = 0
    async with runtime.database.write() as session:
        due = select(Schedule).where(Schedule.active.is_(True), Schedule.next_run_at <= utcnow())
        if runtime.database.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        for schedule in (await session.execute(due)).scalars():
            job = await queue.enqueue(
                session,
                schedule.kind,
                dict(schedule.payload),
                integration_id=schedule.integration_id,
                concurrency_key=f"{schedule.kind}:{schedule.integration_id}",
            )
            await session.execute(
                update(Schedule)
                .where(Schedule.id == schedule.id)
                .values(next_run_at=utcnow() + STALL_GUARD, last_job_id=job.id, updated_at=utcnow())
            )
            fired += 1
    if fired:
        runtime.notify_job_enqueued()
    return fired


async def run_scheduler(runtime: Runtime, stop: asyncio.Event, tick_seconds: float = 1.0) -> None:
    """Check schedules every tick until stopped."""
    while not stop.is_set():
        try:
            await enqueue_due(runtime)
        except Exception as error:
            log.exception("scheduler_tick_failed", error_type=type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)


async def next_runs(db: Executor, kind: str, integration_ids: Sequence[str]) -> dict[str, datetime]:
    """When each integration's active schedule of `kind` fires next."""
    rows = await db.execute(
        select(Schedule.integration_id, Schedule.next_run_at).where(
            Schedule.kind == kind,
            Schedule.active.is_(True),
            Schedule.integration_id.in_(integration_ids),
        )
    )
    return {str(integration_id): at for integration_id, at in rows}
