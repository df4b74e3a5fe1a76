"""The worker loop: claim due jobs, run their handlers concurrently, heartbeat, reap the dead.

Knows handlers only by job kind; every business decision is the handler's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import structlog
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.base import utcnow
from propbridge.jobs import queue
from propbridge.jobs.models import Job
from propbridge.jobs.retry import backoff_seconds

if TYPE_CHECKING:
    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

ProgressCallback = Callable[[str, int, int | None], None]


class RetryLater(Exception):
    """Raised by a handler whose work may safely run again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobHandler(Protocol):
    """How one kind of job runs and how it recovers from a crashed worker."""

    async def run(
        self, runtime: Runtime, job: queue.ClaimedJob, progress: ProgressCallback | None
    ) -> None:
        """Do the work and finish the job (queue.mark_*) in the transaction that records it."""
        ...

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        """The job's lease expired: re-queue it or end it, in `session`."""
        ...


def worker_name() -> str:
    """Host and process, so a job's `locked_by` says where it ran."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def fail_or_retry(
    runtime: Runtime, job: queue.ClaimedJob, error: str, retry_after: float | None = None
) -> None:
    """The default ending of a job that raised: try again with backoff until attempts run out."""
    async with runtime.database.write() as session:
        if job.attempt < job.max_attempts:
            delay = backoff_seconds(
                job.attempt, retry_after, base=runtime.settings.retry_base_seconds
            )
            await queue.schedule_retry(session, job, error, delay)
        else:
            await queue.mark_failed(session, job, error)


# How long a stopping worker lets its running jobs finish (their leases renewed meanwhile)
# before it cancels them, and how long it then gives them to end what they were doing.
DRAIN_SECONDS = 30.0
CANCEL_SECONDS = 10.0


class Worker:
    """Runs jobs from the database until told to stop."""

    def __init__(
        self,
        runtime: Runtime,
        handlers: dict[str, JobHandler],
        *,
        concurrency: int | None = None,
        name: str | None = None,
        limits: queue.ConcurrencyLimits | None = None,
        drain_seconds: float = DRAIN_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.handlers = handlers
        self.limits = limits
        self.concurrency = concurrency or runtime.settings.worker_concurrency
        self.name = name or worker_name()
        self.lease = timedelta(seconds=runtime.settings.job_lease_seconds)
        self.drain_seconds = drain_seconds
        self._running: dict[str, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """The loop; returns after `stop` is set and running jobs have ended."""
        poll = self.runtime.settings.worker_poll_seconds
        next_maintenance = 0.0
        log.info("worker_started", worker=self.name, concurrency=self.concurrency)
        while not stop.is_set():
            if time.monotonic() >= next_maintenance:
                await self._maintain()
                next_maintenance = time.monotonic() + self.lease.total_seconds() / 4
            claimed = await self._claim()
            for job in claimed:
                task = asyncio.create_task(self._execute(job, None))
                self._running[job.id] = task
                task.add_done_callback(functools.partial(self._finished, job.id))
            if not claimed or len(self._running) > self.concurrency // 2:
                await self._sleep(stop, poll)
        if self._running:
            await self._drain()
        log.info("worker_stopped", worker=self.name)

    async def _drain(self) -> None:
        """Let running jobs finish, keeping their leases (otherwise another worker would take
        them over and run them a second time while this one still does); cancel those still
        running after `drain_seconds`, so that none runs on unwatched (each handler ends what
        it can when cancelled; the rest is recovered when its lease runs out)."""
        heartbeat = asyncio.create_task(self._heartbeat_forever(list(self._running)))
        try:
            _done, pending = await asyncio.wait(
                list(self._running.values()), timeout=self.drain_seconds
            )
            for task in pending:
                task.cancel()
            if pending:
                log.warning("worker_cancelled_jobs", worker=self.name, jobs=len(pending))
                await asyncio.wait(pending, timeout=CANCEL_SECONDS)
        finally:
            heartbeat.cancel()

    def _finished(self, job_id: str, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self.runtime.job_enqueued.set()

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = [
            asyncio.create_task(stop.wait()),
            asyncio.create_task(self.runtime.job_enqueued.wait()),
        ]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        self.runtime.job_enqueued.clear()

    async def _claim(self) -> list[queue.ClaimedJob]:
        free = self.concurrency - len(self._running)
        # Claim in batches: one claiming transaction per finished job would cost more than the
        # jobs themselves when they are short.
        if free <= 0 or (self._running and free < max(1, self.concurrency // 2)):
            return []
        async with self.runtime.database.read() as session:
            due = await session.scalar(
                select(exists().where(Job.state == "queued", Job.run_after <= utcnow()))
            )
        if not due:
            return []
        async with self.runtime.database.write() as session:
            return await queue.claim(session, self.name, free, self.lease, limits=self.limits)

    async def run_one(self, job_id: str, progress: ProgressCallback | None) -> bool:
        """Claim one given job and run it here (the CLI's `sync` does this); False if taken."""
        async with self.runtime.database.write() as session:
            claimed = await queue.claim(session, self.name, 1, self.lease, only_id=job_id)
        if not claimed:
            return False
        heartbeat = asyncio.create_task(self._heartbeat_forever([job_id]))
        try:
            await self._execute(claimed[0], progress)
        finally:
            heartbeat.cancel()
        return True

    async def _heartbeat_forever(self, job_ids: list[str]) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            async with self.runtime.database.write() as session:
                await queue.extend_leases(session, self.name, job_ids, self.lease)

    async def _execute(self, job: queue.ClaimedJob, progress: ProgressCallback | None) -> None:
        bound = log.bind(
            job_id=job.id, job_kind=job.kind, integration_id=job.integration_id, attempt=job.attempt
        )
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                async with self.runtime.database.write() as session:
                    await queue.mark_failed(session, job, f"no handler for job kind {job.kind!r}")
                return
            await handler.run(self.runtime, job, progress)
            bound.info("job_ran")
        except RetryLater as signal:
            bound.warning("job_retry", reason=str(signal))
            await fail_or_retry(self.runtime, job, str(signal), signal.retry_after)
        except Exception as error:
            bound.exception("job_crashed", error_type=type(error).__name__)
            with contextlib.suppress(Exception):
                await fail_or_retry(self.runtime, job, f"{type(error).__name__}: {error}")

    async def _maintain(self) -> None:
        """Heartbeat our jobs, then hand jobs of dead workers to their handler's recovery."""
        try:
            async with self.runtime.database.write() as session:
                await queue.extend_leases(session, self.name, list(self._running), self.lease)
            async with self.runtime.database.write() as session:
                for job in await queue.expired_jobs(session):
                    handler = self.handlers.get(job.kind)
                    log.warning("job_lease_expired", job_id=job.id, job_kind=job.kind)
                    if handler is None:
                        await queue.mark_failed(session, job, "lease expired; no handler")
                    else:
                        await handler.recover(self.runtime, session, job)
        except Exception as error:
            log.exception("worker_maintenance_failed", error_type=type(error).__name__)
