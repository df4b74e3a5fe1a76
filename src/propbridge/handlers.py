"""The job kinds this build of propbridge runs, and who runs them."""

from __future__ import annotations

from propbridge.billing.service import WRITE_JOB
from propbridge.billing.write_job import WriteJobHandler
from propbridge.integrations.service import SYNC_JOB
from propbridge.jobs.worker import JobHandler
from propbridge.sync.engine import SyncJobHandler
from propbridge.webhooks.delivery import WebhookDeliveryHandler
from propbridge.webhooks.events import DELIVERY_JOB


def job_handlers() -> dict[str, JobHandler]:
    """Handler per job kind."""
    return {
        SYNC_JOB: SyncJobHandler(),
        WRITE_JOB: WriteJobHandler(),
        DELIVERY_JOB: WebhookDeliveryHandler(),
    }
