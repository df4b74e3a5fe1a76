"""Every kind of job the product queues, and the payload each carries: the one place to look.

Names only: the handlers live with their domains and are put together in `handlers.py`. The
queue itself takes any kind and payload (its own tests use others).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict


class JobKind(StrEnum):
    """What a job does (stored in `jobs.kind`)."""

    SYNC = "sync"
    WRITE = "write"
    WEBHOOK_DELIVERY = "webhook_delivery"
    HOUSEKEEPING = "housekeeping"


class SyncPayload(TypedDict):
    """Sync an integration: these models, or (None) all it has."""

    models: list[str] | None


class WritePayload(TypedDict):
    """Send one recorded write request to its PMS."""

    write_request_id: str


class WebhookDeliveryPayload(TypedDict):
    """Send a webhook's pending deliveries, oldest first."""

    webhook_id: str


class HousekeepingPayload(TypedDict):
    """Deployment-wide clean-up (expired idempotency keys); nothing to say."""
