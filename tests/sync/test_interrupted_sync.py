"""A sync cancelled half-way (Ctrl-C in `propbridge sync`, a worker stopping) ends its run at
once and puts its job back in the queue: nothing waits for a lease to run out."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from sqlalchemy import select

from propbridge.jobs import queue
from propbridge.jobs.kinds import JobKind, SyncPayload
from propbridge.jobs.models import Job
from propbridge.sync.models import SyncRun
from propbridge.sync.service import INTERRUPTED, run_sync
from tests.support import LiveStack


def test_a_cancelled_sync_ends_its_run_and_is_queued_again(stack: LiveStack) -> None:
    integration = stack.create_integration()
    # Slow ResMan down, so that the sync is surely half-way when it is cancelled.
    stack.sandbox.post("/_sandbox/faults", json={"latency_ms": 300})

    async def interrupted() -> tuple[str, str, str | None]:
        async with stack.runtime.database.write() as session:
            job = await queue.enqueue(
                session, JobKind.SYNC, SyncPayload(models=None), integration_id=integration["id"]
            )
            # Claimed in the same transaction: the stack's own worker never sees it queued.
            [claimed] = await queue.claim(
                session, "test:1", 1, timedelta(seconds=30), only_id=job.id
            )
        task = asyncio.create_task(run_sync(stack.runtime, claimed, None))
        for _ in range(200):
            await asyncio.sleep(0.05)
            async with stack.runtime.database.read() as session:
                if await session.scalar(select(SyncRun.id).where(SyncRun.job_id == job.id)):
                    break
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with stack.runtime.database.read() as session:
            run = await session.scalar(select(SyncRun).where(SyncRun.job_id == job.id))
            state = await session.scalar(select(Job.state).where(Job.id == job.id))
            assert run is not None and state is not None
            return run.state, state, run.error

    try:
        run_state, job_state, error = stack.call(interrupted())
    finally:
        stack.sandbox.post("/_sandbox/faults", json={})
    assert run_state == "failed" and error == INTERRUPTED
    # Queued again at once (the stack's worker may already have taken it up).
    assert job_state in ("queued", "running", "succeeded")
    runs = stack.http.get(f"/v1/admin/integrations/{integration['id']}/sync-runs").json()
    assert INTERRUPTED in {r["error"] for r in runs["results"]}
