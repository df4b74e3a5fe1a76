"""The job kinds this build of propbridge runs, who runs them, and their per-integration caps."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.idempotency.tasks import HOUSEKEEPING_INTERVAL, HousekeepingHandler
from propbridge.integrations.repository import job_caps
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.scheduler import upsert_schedule
from propbridge.jobs.worker import JobHandler
from propbridge.sync.tasks import SyncJobHandler
from propbridge.webhooks.tasks import WebhookDeliveryHandler
from propbridge.writes.tasks import WriteJobHandler


def job_handlers() -> dict[str, JobHandler]:
    """Handler per job kind."""
    return {
        JobKind.SYNC: SyncJobHandler(),
        JobKind.WRITE: WriteJobHandler(),
        JobKind.WEBHOOK_DELIVERY: WebhookDeliveryHandler(),
        JobKind.HOUSEKEEPING: HousekeepingHandler(),
    }


async def schedule_housekeeping(session: AsyncSession) -> None:
    """The deployment's own recurring jobs (a scheduler's process makes sure they exist)."""
    await upsert_schedule(session, None, JobKind.HOUSEKEEPING, HOUSEKEEPING_INTERVAL, True, 60)


async def integration_job_limits(
    session: AsyncSession, integration_ids: list[str]
) -> dict[str, int]:
    """Each integration's `max_job_concurrency` (the queue's concurrency limits)."""
    return await job_caps(session, integration_ids)
