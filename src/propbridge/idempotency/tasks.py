"""The housekeeping job: forget what is kept only for a while (idempotency keys past their
time). Scheduled every `HOUSEKEEPING_INTERVAL` for the whole deployment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from propbridge.idempotency.service import forget_expired_keys
from propbridge.jobs import queue
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.scheduler import run_finished

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from propbridge.runtime import Runtime

HOUSEKEEPING_INTERVAL = 3600
log = structlog.get_logger(__name__)


class HousekeepingHandler:
    """The `housekeeping` job kind."""

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: Any) -> None:
        async with runtime.database.write() as session:
            forgotten = await forget_expired_keys(session)
            await queue.mark_succeeded(session, job, {"idempotency_keys_deleted": forgotten})
            await run_finished(session, None, JobKind.HOUSEKEEPING)
        log.info("housekeeping_done", idempotency_keys_deleted=forgotten)

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        """Nothing half-done to undo: run it again."""
        await queue.schedule_retry(session, job, "worker lost; housekeeping restarted", 0)
