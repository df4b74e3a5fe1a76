"""`propbridge sync ID`: queue a sync and run it in this process with a progress bar.

If a running worker claims the job first, follow its progress from the database instead.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.progress import Progress, TaskID

from propbridge.integrations.repository import live_integration
from propbridge.integrations.service import request_sync
from propbridge.jobs.models import ACTIVE_STATES, Job
from propbridge.jobs.worker import JobHandler, Worker
from propbridge.sync import repository

if TYPE_CHECKING:
    from propbridge.runtime import Runtime


async def run_sync_command(
    runtime: Runtime,
    handlers: dict[str, JobHandler],
    integration_id: str,
    models: list[str] | None,
    progress: Progress,
) -> int:
    """Exit code 0 when the sync succeeded (`handlers`: the job kinds a worker here runs)."""
    synced = runtime.synced_models
    unknown = synced.unknown(models or ())
    if unknown:
        progress.console.print(
            f"[red]error:[/red] cannot sync {', '.join(unknown)}; "
            f"choose from {', '.join(synced.names)}"
        )
        return 2
    async with runtime.database.write() as session:
        integration = await live_integration(session, integration_id)
        if integration is None:
            progress.console.print(f"[red]error:[/red] no integration {integration_id}")
            return 2
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
        reason = current.last_error if current else "job vanished"
        progress.console.print(f"[red]sync did not complete:[/red] {reason}")
        return 1
    for model, counts in (run.counts if run else {}).items():
        progress.console.print(
            f"{model}: {counts['new']} new, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged"
        )
    return 0
