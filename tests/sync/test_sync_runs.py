"""Sync runs whose worker is gone, on a real database: listed as failed (without any reaper
having run), ended when their job runs again, and ended by the reaper's recovery.

Times are set an hour either side of the clock's now: what matters is only which side of it a
lease ends on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.listing import ListQuery
from propbridge.db.base import utcnow
from propbridge.integrations.models import Integration
from propbridge.jobs import queue
from propbridge.jobs.models import Job, JobAttempt
from propbridge.runtime import Runtime
from propbridge.sync import repository, service
from propbridge.sync.models import SyncRun
from propbridge.sync.tasks import SyncJobHandler
from tests import factories

HOUR = timedelta(hours=1)


async def _run(session: AsyncSession, of: Integration, job: Job | None, **values: Any) -> SyncRun:
    row = SyncRun(
        integration_id=of.id,
        job_id=None if job is None else job.id,
        models=[],
        **{"started_at": utcnow() - HOUR, **values},
    )
    session.add(row)
    await session.flush()
    return row


async def _listed(session: AsyncSession, of: Integration) -> dict[str, dict[str, Any]]:
    page = await service.list_runs(session, of.id, ListQuery(0, 100, [("started_at", "desc")]))
    return {run["id"]: run for run in page["results"]}


async def test_a_run_whose_worker_is_gone_is_listed_failed(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    now = utcnow()

    def job(state: str, lease_delta: timedelta | None = None) -> Any:
        lease = None if lease_delta is None else now + lease_delta
        return factories.job(
            session, integration_id=integration.id, state=state, lease_expires_at=lease
        )

    alive = await _run(session, integration, await job("running", HOUR))
    expired = await _run(session, integration, await job("running", -HOUR))
    requeued = await _run(session, integration, await job("queued"))
    crashed = await _run(session, integration, await job("failed"))
    restarted = await job("running", HOUR)
    superseded = await _run(session, integration, restarted, started_at=now - 2 * HOUR)
    current = await _run(session, integration, restarted, started_at=now - HOUR)
    finished = await _run(
        session, integration, await job("succeeded"), state="succeeded", finished_at=now
    )
    orphan = await _run(session, integration, None)

    listed = await _listed(session, integration)
    stopped = {expired.id, requeued.id, crashed.id, superseded.id, orphan.id}
    for run_id in stopped:
        assert listed[run_id]["state"] == "failed", run_id
        assert listed[run_id]["error"] == repository.WORKER_STOPPED
        assert listed[run_id]["finished_at"] is None
    for run in (alive, current):
        assert (listed[run.id]["state"], listed[run.id]["error"]) == ("running", None)
    assert listed[finished.id]["state"] == "succeeded"
    assert len(listed) == 8
    # Listing writes nothing: the records say what was stored.
    await session.refresh(expired)
    assert expired.state == "running"


async def test_a_failed_run_keeps_its_own_error(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    job = await factories.job(session, integration_id=integration.id, state="failed")
    run = await _run(session, integration, job, state="failed", error="ResMan said no")
    assert (await _listed(session, integration))[run.id]["error"] == "ResMan said no"


async def test_a_job_that_runs_again_ends_its_earlier_run(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    job = await factories.job(session, integration_id=integration.id, state="running")
    other = await factories.job(session, integration_id=integration.id, state="running")
    earlier = await _run(session, integration, job)
    elsewhere = await _run(session, integration, other)
    at = utcnow()
    again = await repository.start_run(session, integration.id, job.id, at)
    for row in (earlier, elsewhere, again):
        await session.refresh(row)
    assert (earlier.state, earlier.error, earlier.finished_at) == (
        "failed",
        repository.WORKER_STOPPED,
        at,
    )
    assert again.state == "running" and again.started_at == at
    assert elsewhere.state == "running"


async def test_the_reaper_ends_the_dead_workers_run_and_requeues_the_sync(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    job = await factories.job(
        session,
        integration_id=integration.id,
        state="running",
        attempt=1,
        max_attempts=3,
        lease_expires_at=utcnow() - HOUR,
    )
    run = await _run(session, integration, job)
    claimed = queue.ClaimedJob(job.id, job.kind, job.integration_id, job.payload, 1, 3)
    # The handler's recovery reads nothing of the runtime.
    await SyncJobHandler().recover(cast(Runtime, None), session, claimed)
    await session.refresh(run)
    await session.refresh(job)
    assert (run.state, run.error) == ("failed", repository.WORKER_STOPPED)
    assert job.state == "queued"


async def test_abandon_expired_ends_only_a_job_whose_lease_ran_out(session: AsyncSession) -> None:
    now = utcnow()
    expired = await factories.job(session, state="running", attempt=2, lease_expires_at=now - HOUR)
    session.add(JobAttempt(job_id=expired.id, attempt=2, worker="gone:1"))
    alive = await factories.job(session, state="running", lease_expires_at=now + HOUR)
    queued = await factories.job(session, state="queued")
    assert await queue.abandon_expired(session, expired.id, "gone") is True
    assert await queue.abandon_expired(session, expired.id, "gone") is False
    assert await queue.abandon_expired(session, alive.id, "gone") is False
    assert await queue.abandon_expired(session, queued.id, "gone") is False
    for row in (expired, alive, queued):
        await session.refresh(row)
    assert (expired.state, expired.last_error, expired.locked_by) == ("failed", "gone", None)
    assert (alive.state, queued.state) == ("running", "queued")
    [attempt] = (
        await session.execute(JobAttempt.__table__.select().where(JobAttempt.job_id == expired.id))
    ).all()
    assert (attempt.outcome, attempt.error) == ("failed", "gone")
