"""Group commit on both engines: steps handed in together share one transaction and return once
it has committed; a failing step fails alone; `last` operations run last; a refill adds its step
to the group that ends a job; and a worker that refills its slots that way runs every job once,
never more at once than its concurrency."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from propbridge.db.engine import Database
from propbridge.jobs import queue
from propbridge.jobs.group_commit import Extra, GroupCommit
from propbridge.jobs.models import Job
from propbridge.jobs.worker import Worker
from propbridge.runtime import Runtime
from tests.jobs.conftest import worker_runtime


async def _count(db: Database, kind: str) -> int:
    async with db.read_connection() as connection:
        return int(await connection.scalar(select(func.count()).where(Job.kind == kind)) or 0)


class Recorder:
    """Operations that enqueue a job of `kind` per argument, noting how each call was made."""

    def __init__(self, db: Database, kind: str) -> None:
        self.db = db
        self.kind = kind
        self.calls: list[list[Any]] = []
        self.order: list[str] = []
        self.seen_committed: list[int] = []

    async def add(self, connection: AsyncConnection, arguments: list[Any]) -> list[str]:
        self.calls.append(arguments)
        self.order.append("add")
        ids = []
        for argument in arguments:
            if argument == "fail":
                raise ValueError("this step fails")
            row = queue.new_job_row(self.kind, {"argument": argument})
            row["state"] = "cancelled"  # rows only: no claim in the shared database takes them
            await connection.execute(queue.JOBS.insert(), [row])
            ids.append(row["id"])
        return ids

    async def late(self, connection: AsyncConnection, arguments: list[Any]) -> list[int]:
        self.order.append("late")
        # Runs after `add` in the same transaction: it sees the rows added there.
        count = await connection.scalar(select(func.count()).where(Job.kind == self.kind))
        return [int(count or 0)] * len(arguments)


async def test_steps_handed_in_together_share_one_committed_transaction(
    database: Database,
) -> None:
    group = GroupCommit(database)
    recorder = Recorder(database, "t-group-shared")
    ids = await asyncio.gather(*(group.run(recorder.add, n) for n in range(5)))
    # One call of the operation with every argument: one transaction for the five steps.
    assert recorder.calls == [[0, 1, 2, 3, 4]]
    assert len({i for i in ids}) == 5
    # Returned only after the commit: another connection sees every row.
    assert await _count(database, "t-group-shared") == 5


async def test_a_failing_step_fails_alone(database: Database) -> None:
    group = GroupCommit(database)
    recorder = Recorder(database, "t-group-fail")
    results = await asyncio.gather(
        *(group.run(recorder.add, argument) for argument in (1, "fail", 2)),
        return_exceptions=True,
    )
    assert isinstance(results[1], ValueError)
    assert isinstance(results[0], str) and isinstance(results[2], str)
    # The group's transaction was rolled back and each step ran again on its own.
    assert recorder.calls == [[1, "fail", 2], [1], ["fail"], [2]]
    assert await _count(database, "t-group-fail") == 2


async def test_last_operations_run_after_the_others_of_their_group(database: Database) -> None:
    group = GroupCommit(database)
    recorder = Recorder(database, "t-group-last")
    late, *_ = await asyncio.gather(
        group.run(recorder.late, None, last=True),
        group.run(recorder.add, 1),
        group.run(recorder.add, 2),
    )
    assert recorder.order == ["add", "late"]
    assert late == 2


async def test_a_refill_adds_its_step_to_the_group_that_ends_a_job(database: Database) -> None:
    group = GroupCommit(database)
    recorder = Recorder(database, "t-group-refill")
    asked: list[list[str]] = []

    def refill(ending: list[str]) -> Extra[Any, Any] | None:
        asked.append(ending)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        refilled.append(future)
        return Extra(recorder.late, None, future)

    refilled: list[asyncio.Future[int]] = []
    group.add_refill(refill)
    await asyncio.gather(group.run(recorder.add, 1, ends="job-1"), group.run(recorder.add, 2))
    group.remove_refill(refill)
    await group.run(recorder.add, 3, ends="job-3")  # no refill any more
    assert asked == [["job-1"]]
    # The refill's step ran last in that same transaction, and its result was delivered.
    assert recorder.order == ["add", "late", "add"]
    assert refilled[0].result() == 2


class EndsInGroups:
    """A job that, like the write job, ends with a group step that says it ends the job."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.runs: dict[str, int] = {}
        self.running = 0
        self.most = 0

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: object) -> None:
        self.runs[job.id] = self.runs.get(job.id, 0) + 1
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.005)  # the PMS call
        finally:
            self.running -= 1
        group = GroupCommit.of(runtime.database)
        await group.run(self._end, job, ends=job.id)

    async def _end(self, connection: AsyncConnection, jobs: list[queue.ClaimedJob]) -> list[None]:
        await queue.finish_many(connection, [(job, "succeeded", None) for job in jobs])
        return [None] * len(jobs)

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        raise AssertionError("no job should be abandoned")


@pytest.fixture
async def runtime(own_database: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with worker_runtime(own_database, tmp_path) as live:
        yield live


async def test_a_worker_refilling_its_slots_runs_every_job_once_within_its_concurrency(
    runtime: Runtime,
) -> None:
    kind, concurrency, jobs = "t-refill", 3, 40
    async with runtime.database.write() as session:
        for n in range(jobs):
            await queue.enqueue(session, kind, {"n": n})
    handler = EndsInGroups(concurrency)
    worker = Worker(runtime, {kind: handler}, concurrency=concurrency, name="refilling")
    refills: list[object] = []
    refill = worker._refill

    def counted(ending: list[str]) -> Extra[Any, Any] | None:
        extra = refill(ending)
        if extra is not None:
            refills.append(extra)
        return extra

    worker._refill = counted  # type: ignore[method-assign]
    samples: list[int] = []
    sampling = threading.Event()

    async def running_in_the_database() -> None:
        while not sampling.is_set():
            async with runtime.database.read_connection() as connection:
                samples.append(
                    int(
                        await connection.scalar(
                            select(func.count()).where(Job.kind == kind, Job.state == "running")
                        )
                        or 0
                    )
                )
            await asyncio.sleep(0.002)

    stop = asyncio.Event()
    sampler = asyncio.create_task(running_in_the_database())
    running = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(500):
            async with runtime.database.read_connection() as connection:
                done = await connection.scalar(
                    select(func.count()).where(Job.kind == kind, Job.state == "succeeded")
                )
            if done == jobs:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        sampling.set()
        await asyncio.wait_for(running, 30)
        await sampler
    assert sorted(handler.runs.values()) == [1] * jobs
    assert refills, "no slot was taken again in the group that ended its job"
    # A slot is taken again in the transaction that ends its job: never more running at once.
    assert max(samples) <= concurrency
    assert handler.most <= concurrency
    async with runtime.database.read_connection() as connection:
        attempts = await connection.scalar(select(func.max(Job.attempt)).where(Job.kind == kind))
    assert attempts == 1
