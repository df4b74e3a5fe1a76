"""Over HTTP, on the live stack: a sync run left "running" by a worker that died (its job's
lease ran out) is listed as failed, the integration is not "running a sync", and a manual sync
starts a new one at once.

The dead worker's job is written into the database as a crash leaves it, with its last attempt
used: the stack's own worker may reap it first or the manual sync may take it over, and either
way what the API shows is the same.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from propbridge.db.base import utcnow
from propbridge.db.ids import new_id
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.models import Job, JobAttempt
from propbridge.sync.models import SyncRun
from tests.support import LiveStack

WORKER_STOPPED = "the worker running this sync stopped"


def _crashed_sync(stack: LiveStack, integration_id: str) -> tuple[str, str]:
    """A sync job running under a lease that ran out a minute ago, with its half-done run."""

    async def write() -> tuple[str, str]:
        now = utcnow()
        job_id, run_id = new_id(), new_id()
        async with stack.runtime.database.write() as session:
            session.add(
                Job(
                    id=job_id,
                    kind=JobKind.SYNC,
                    integration_id=integration_id,
                    concurrency_key=f"{JobKind.SYNC}:{integration_id}",
                    payload={"models": None},
                    state="running",
                    attempt=3,
                    max_attempts=3,
                    locked_by="gone:1",
                    lease_expires_at=now - timedelta(minutes=1),
                )
            )
            session.add(JobAttempt(job_id=job_id, attempt=3, worker="gone:1"))
            session.add(
                SyncRun(
                    id=run_id,
                    integration_id=integration_id,
                    job_id=job_id,
                    models=[],
                    counts={"properties": {"new": 2, "updated": 0, "unchanged": 0}},
                    started_at=now - timedelta(minutes=3),
                )
            )
        return job_id, run_id

    return stack.call(write())


def test_a_dead_workers_sync_is_failed_and_blocks_nothing(stack: LiveStack) -> None:
    integration_id = stack.create_integration()["id"]
    path = f"/v1/admin/integrations/{integration_id}"
    dead_job, dead_run = _crashed_sync(stack, integration_id)

    [listed] = stack.http.get(f"{path}/sync-runs").json()["results"]
    assert (listed["id"], listed["job_id"]) == (dead_run, dead_job)
    assert (listed["state"], listed["error"]) == ("failed", WORKER_STOPPED)
    assert listed["counts"]["properties"]["new"] == 2
    assert stack.http.get(f"{path}/").json()["results"]["is_running_sync"] is False

    answer = stack.http.post(f"{path}/manual-sync")
    assert answer.status_code == 200, answer.text
    new_job = answer.json()["result"]["job_id"]
    assert new_job != dead_job
    assert stack.wait_job(new_job)["state"] == "succeeded"

    runs: list[dict[str, Any]] = stack.http.get(
        f"{path}/sync-runs", params={"order-by": "started_at:desc"}
    ).json()["results"]
    assert [(r["job_id"], r["state"]) for r in runs] == [
        (new_job, "succeeded"),
        (dead_job, "failed"),
    ]
    assert runs[1]["error"] == WORKER_STOPPED and runs[1]["finished_at"] is not None
