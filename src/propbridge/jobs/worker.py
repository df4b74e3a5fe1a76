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
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, cast

import structlog
from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from propbridge.db.base import utcnow
from propbridge.jobs import queue
from propbridge.jobs.group_commit import Extra, GroupCommit
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


class ClaimHook(Protocol):
    """A handler that also has `begin`: it starts its jobs in the transaction that claims them
    (one transaction less per job on a busy worker)."""

    async def begin(
        self, runtime: Runtime, connection: AsyncConnection, jobs: list[queue.ClaimedJob]
    ) -> list[object]:
        """What `run` of each job needs (it finds it in `job.prepared`; None: nothing was
        prepared, `run` starts the job itself). Only database work: the claim may be rolled
        back, so nothing may be kept aside; a job that cannot be prepared is left to `run`."""
        ...


# Is anything due (read before a claim takes the write lock, when the queue looked empty)?
DUE = select(exists().where(Job.state == "queued", Job.run_after <= bindparam("b_now")))


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
        # The handlers that start their jobs in the claim's transaction (`ClaimHook`).
        self._hooks: dict[str, ClaimHook] = {
            kind: cast(ClaimHook, handler)
            for kind, handler in handlers.items()
            if callable(getattr(handler, "begin", None))
        }
        # The last claim got every job it asked for: more are probably due.
        self._more_due = False
        # Slots that claims under way will fill, the refills' claims under way, and whether the
        # worker has stopped claiming.
        self._claiming = 0
        self._refills: set[asyncio.Future[list[queue.ClaimedJob]]] = set()
        self._stopping = False
        # Running jobs whose last step is in a group already: their slots are taken again in
        # that group, though their tasks end a little later.
        self._ending: set[str] = set()
        self._group: GroupCommit | None = None  # the one its refill is registered with

    async def run(self, stop: asyncio.Event) -> None:
        """The loop; returns after `stop` is set and running jobs have ended."""
        poll = self.runtime.settings.worker_poll_seconds
        next_maintenance = 0.0
        log.info("worker_started", worker=self.name, concurrency=self.concurrency)
        group = self._group = GroupCommit.of(self.runtime.database)
        group.add_refill(self._refill)
        try:
            while not stop.is_set():
                if time.monotonic() >= next_maintenance:
                    await self._maintain()
                    next_maintenance = time.monotonic() + self.lease.total_seconds() / 4
                try:
                    self._start(await self._claim())
                except Exception as error:
                    # The database is unreachable or refused the claim: again after a poll.
                    log.exception("worker_claim_failed", error_type=type(error).__name__)
                # Woken when a job ends or one is enqueued here, else after a poll.
                await self._sleep(stop, poll)
        finally:
            self._stopping = True
            group.remove_refill(self._refill)
        if self._refills:
            # Claims of groups under way: their jobs start (they may be dispatched already) and
            # are drained with the others.
            await asyncio.wait(self._refills, timeout=self.drain_seconds)
        if self._running:
            await self._drain()
        log.info("worker_stopped", worker=self.name)

    def _start(self, claimed: list[queue.ClaimedJob]) -> None:
        for job in claimed:
            task = asyncio.create_task(self._execute(job, None))
            self._running[job.id] = task
            task.add_done_callback(functools.partial(self._finished, job.id))

    def _refill(self, ending: list[str]) -> Extra[int, list[queue.ClaimedJob]] | None:
        """A group ends some of this worker's jobs: a claim for their slots (and the free ones)
        in that group, run after their ends. A job counts as done once its end is committed,
        which is when the jobs claimed for its slot start."""
        if self._stopping:
            return None
        mine = [job_id for job_id in ending if job_id in self._running]
        if not mine:
            return None
        self._ending.update(mine)
        free = self._free()
        if free <= 0:
            return None
        self._claiming += free
        result: asyncio.Future[list[queue.ClaimedJob]] = asyncio.get_running_loop().create_future()
        result.add_done_callback(functools.partial(self._refilled, free))
        self._refills.add(result)
        return Extra(self._claim_step, free, result)

    def _refilled(self, asked: int, result: asyncio.Future[list[queue.ClaimedJob]]) -> None:
        self._claiming -= asked
        self._refills.discard(result)
        if result.cancelled():
            return
        error = result.exception()
        if error is not None:
            log.error("worker_claim_failed", error_type=type(error).__name__, error=str(error))
            return
        claimed = result.result()
        self._more_due = len(claimed) == asked
        self._start(claimed)

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

    def _free(self) -> int:
        """Slots for new jobs: neither running (unless ending) nor being claimed."""
        return self.concurrency - (len(self._running) - len(self._ending)) - self._claiming

    def _finished(self, job_id: str, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._ending.discard(job_id)
        if self._free() > 0:
            # Wake the loop to claim for the slot (most slots were taken again already, in the
            # group that ended their job: waking it for each of those would only cost).
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
        """Claim jobs for the free slots. The claim is a step of the group commit its running
        jobs share (run after their steps: the jobs ending in that group have freed their
        integration's slots), so a busy worker pays no transaction of its own for it."""
        free = self._free()
        if free <= 0:
            return []
        if not self._more_due:
            # Idle or drained: a read first, rather than the write lock for finding nothing.
            async with self.runtime.database.read_connection() as connection:
                if not await connection.scalar(DUE, {"b_now": utcnow()}):
                    return []
        group = self._group or GroupCommit.of(self.runtime.database)
        self._claiming += free
        try:
            claimed: list[queue.ClaimedJob] = await group.run(self._claim_step, free, last=True)
        finally:
            self._claiming -= free
        self._more_due = len(claimed) == free
        return claimed

    async def _claim_step(
        self, connection: AsyncConnection, wanted: list[int]
    ) -> list[list[queue.ClaimedJob]]:
        """The claim (one per worker and group), and each claimed job started by its handler
        when it starts jobs in the claim's transaction."""
        claims: list[list[queue.ClaimedJob]] = []
        for free in wanted:
            claimed = await queue.claim(connection, self.name, free, self.lease, limits=self.limits)
            by_kind: dict[str, list[int]] = {}
            for index, job in enumerate(claimed):
                if job.kind in self._hooks:
                    by_kind.setdefault(job.kind, []).append(index)
            for kind, indexes in by_kind.items():
                jobs = [claimed[i] for i in indexes]
                prepared = await self._hooks[kind].begin(self.runtime, connection, jobs)
                for index, ready in zip(indexes, prepared, strict=True):
                    claimed[index] = replace(claimed[index], prepared=ready)
            claims.append(claimed)
        return claims

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
