"""`propbridge sync ID`: queue a sync and run it in this process with a progress bar.

If a running worker claims the job first, follow its progress from the database instead.
Returns what happened; the command prints it (as text or JSON).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.progress import Progress, TaskID

from propbridge.integrations.repository import live_integration
from propbridge.integrations.service import request_sync
from propbridge.jobs.models import ACTIVE_STATES, Job
from propbridge.jobs.worker import JobHandler, Worker
from propbridge.sync import repository

if TYPE_CHECKING:
    from propbridge.runtime import Runtime


@dataclass(frozen=True)
class SyncOutcome:
    """How a `propbridge sync` ended. `code` is the exit code: 0 synced, 1 the sync failed,
    2 it could not start (`error` says why; no job was queued)."""

    code: int
    integration_id: str
    job_id: str | None = None
    state: str | None = None
    error: str | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The outcome as `--json` prints it."""
        return {
            "integration_id": self.integration_id,
            "job_id": self.job_id,
            "state": self.state,
            "error": self.error,
            "counts": self.counts,
        }


async def run_sync_command(
    runtime: Runtime,
    handlers: dict[str, JobHandler],
    integration_id: str,
    models: list[str] | None,
    progress: Progress,
) -> SyncOutcome:
    """Sync one integration (`handlers`: the job kinds a worker here runs)."""
    synced = runtime.synced_models
    unknown = synced.unknown(models or ())
    if unknown:
        return SyncOutcome(
            2,
            integration_id,
            error=f"cannot sync {', '.join(unknown)}; choose from {', '.join(synced.names)}",
        )
    async with runtime.database.write() as session:
        integration = await live_integration(session, integration_id)
        if integration is None:
            return SyncOutcome(2, integration_id, error=f"no integration {integration_id}")
        job = await request_sync(session, integration, models)
        job_id = job.id
    tasks: dict[str, TaskID] = {}

    def report(feed: str, done: int, total: int | None) -> None:
        if feed not in tasks:
            tasks[feed] = progress.add_task(f"syncing {feed}", total=total)
        progress.update(tasks[feed], completed=done, total=total)

    ran_here = await Worker(runtime, handlers, concurrency=1).run_one(job_id, report)
    while True:
        async with runtime.database.read() as session:
            current = await session.get(Job, job_id)
            run = await repository.latest_run_of_job(session, job_id)
        if run is not None and not ran_here:
            for model, counts in run.counts.items():
                report(model, sum(counts.values()), None)
        if current is None or current.state not in ACTIVE_STATES or ran_here:
            break
        await asyncio.sleep(0.5)
    if current is None or current.state != "succeeded":
        return SyncOutcome(
            1,
            integration_id,
            job_id,
            current.state if current else None,
            current.last_error if current else "job vanished",
        )
    counts = {model: dict(c) for model, c in (run.counts if run else {}).items()}
    return SyncOutcome(0, integration_id, job_id, current.state, None, counts)
