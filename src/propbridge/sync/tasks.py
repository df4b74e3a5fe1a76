"""The `sync` job kind: run a sync (`service.run_sync`) in a worker or the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from propbridge.db.base import utcnow
from propbridge.jobs import queue
from propbridge.sync import repository
from propbridge.sync.service import run_sync

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from propbridge.runtime import Runtime


class SyncJobHandler:
    """The `sync` job kind."""

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: Any) -> None:
        await run_sync(runtime, job, progress)

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        """A sync is idempotent (upserts by natural key): run it again. The dead worker's run
        ends failed here, so the list of runs does not show it running forever."""
        await repository.end_unfinished_runs(session, job.id, utcnow())
        if job.attempt < job.max_attempts:
            await queue.schedule_retry(session, job, "worker lost; sync restarted", 0)
        else:
            await queue.mark_failed(session, job, "worker lost too many times")
