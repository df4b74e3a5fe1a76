"""A worker asked to stop lets its running jobs finish and keeps their leases meanwhile: no
other worker takes over (and runs again) a job it is still finishing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.jobs import queue
from propbridge.jobs.models import Job
from propbridge.jobs.worker import Worker
from propbridge.runtime import Runtime
from tests.jobs.conftest import worker_runtime

KIND = "t-drain"
LEASE_SECONDS = 0.4


class SlowJob:
    """Runs for several leases, then succeeds; counts its runs."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.runs = 0
        self.recovered = 0

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: object) -> None:
        self.runs += 1
        self.started.set()
        await self.release.wait()
        async with runtime.database.write() as session:
            await queue.mark_succeeded(session, job, {"ok": True})

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        # As the real handlers do: a job whose worker is gone is queued again.
        self.recovered += 1
        await queue.schedule_retry(session, job, "lease expired", 0)


@pytest.fixture
async def runtime(own_database: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with worker_runtime(own_database, tmp_path, job_lease_seconds=LEASE_SECONDS) as live:
        yield live


async def test_a_stopping_worker_keeps_the_leases_of_the_jobs_it_finishes(
    runtime: Runtime,
) -> None:
    async with runtime.database.write() as session:
        job_id = (await queue.enqueue(session, KIND, {"n": 1})).id  # type: ignore[arg-type]
    handler = SlowJob()
    first, second = Worker(runtime, {KIND: handler}, name="first"), None
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    running_first = asyncio.create_task(first.run(stop_first))
    await asyncio.wait_for(handler.started.wait(), 10)
    stop_first.set()
    # Another worker polls (and reaps) for several leases while the first one drains.
    second = Worker(runtime, {KIND: handler}, name="second")
    running_second = asyncio.create_task(second.run(stop_second))
    await asyncio.sleep(LEASE_SECONDS * 5)
    async with runtime.database.read() as session:
        job = await session.scalar(select(Job).where(Job.id == job_id))
        # Still the first worker's, after several leases' time: its drain kept renewing it.
        assert job is not None and job.state == "running" and job.locked_by == "first"
    handler.release.set()
    await asyncio.wait_for(running_first, 10)
    stop_second.set()
    await asyncio.wait_for(running_second, 10)
    async with runtime.database.read() as session:
        job = await session.scalar(select(Job).where(Job.id == job_id))
        assert job is not None and job.state == "succeeded" and job.attempt == 1
    assert handler.runs == 1 and handler.recovered == 0


class EndlessJob:
    """Never ends by itself; notes that it was cancelled and puts its job back, as the sync
    handler does."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: object) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            async with runtime.database.write() as session:
                await queue.schedule_retry(session, job, "interrupted", 0)
            raise

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        raise AssertionError("recovered instead of cancelled")


async def test_jobs_still_running_after_the_drain_are_cancelled_not_left_running(
    runtime: Runtime,
) -> None:
    async with runtime.database.write() as session:
        job_id = (await queue.enqueue(session, KIND, {"n": 1})).id  # type: ignore[arg-type]
    handler = EndlessJob()
    worker = Worker(runtime, {KIND: handler}, name="stopping", drain_seconds=LEASE_SECONDS * 3)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(handler.started.wait(), 10)
    stop.set()
    # The worker returns: the job did not run on after it stopped watching it.
    await asyncio.wait_for(running, 30)
    assert handler.cancelled
    async with runtime.database.read() as session:
        job = await session.scalar(select(Job).where(Job.id == job_id))
        assert job is not None and job.state == "queued" and job.locked_by is None
