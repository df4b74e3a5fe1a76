"""What each console page shows and what each of its buttons does, through the services the
API uses with the signed-in key's principal: the same scopes, allow-lists, encryption and
safety (a retry here is `retry-write`, a sync here is `manual-sync`).

Never commits a unit of work of its own beyond what those services need; no HTML here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from propbridge.api.errors import ApiError
from propbridge.api.listing import ListQuery
from propbridge.auth import service as keys
from propbridge.auth.models import ApiKey
from propbridge.auth.service import Principal
from propbridge.console import repository
from propbridge.db.base import utcnow
from propbridge.db.migrate import current_revision, head_revision
from propbridge.integrations import service as integrations
from propbridge.integrations.models import Integration
from propbridge.integrations.schemas import IntegrationCreate, IntegrationUpdate
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.queue import QueueHealth, queue_health
from propbridge.jobs.scheduler import next_runs
from propbridge.sync import repository as sync_runs
from propbridge.sync import service as syncs
from propbridge.webhooks import service as webhooks
from propbridge.webhooks.presenters import present_webhook
from propbridge.writes import service as writes
from propbridge.writes.recorder import WriteRecorder
from propbridge.writes.rules import AcceptedWrite

if TYPE_CHECKING:
    from propbridge.runtime import Runtime

# The most rows a console list shows at once (its pages page by this many).
PAGE_SIZE = 50
EVERY_INTEGRATION = ListQuery(0, 1000, [("name", "asc")])


# ---- Integrations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrationView:
    """One integration as its console row shows it."""

    integration: dict[str, Any]
    next_sync_at: datetime | None
    last_run: Any | None
    counts: dict[str, int]

    @property
    def last_error(self) -> str | None:
        """What went wrong last: the newest sync's error, or the PMS refusing the credentials."""
        if self.last_run is not None and self.last_run.error:
            return str(self.last_run.error)
        if not self.integration["can_authenticate"]:
            return "The PMS refused the credentials at the last call"
        return None


async def integration_names(runtime: Runtime, principal: Principal) -> dict[str, str]:
    """Names of the integrations the key may manage, by id (for filters and labels)."""
    async with runtime.database.read() as db:
        listing = await integrations.list_integrations(
            db, principal, EVERY_INTEGRATION, runtime.synced_models
        )
    return {row["id"]: row["name"] for row in listing["results"]}


async def integration_views(runtime: Runtime, principal: Principal) -> list[IntegrationView]:
    """Every integration the key may manage, with its schedule, last sync and record counts."""
    async with runtime.database.read() as db:
        listing = await integrations.list_integrations(
            db, principal, EVERY_INTEGRATION, runtime.synced_models
        )
        ids = [row["id"] for row in listing["results"]]
        next_at = await next_runs(db, JobKind.SYNC, ids)
        runs = await sync_runs.latest_runs(db, ids)
        counts: dict[str, dict[str, int]] = {i: {} for i in ids}
        for model in runtime.synced_models:
            held = await repository.record_counts(db, model.table.__table__, ids)
            for integration_id in ids:
                counts[integration_id][model.name] = held.get(integration_id, 0)
    return [
        IntegrationView(row, next_at.get(row["id"]), runs.get(row["id"]), counts[row["id"]])
        for row in listing["results"]
    ]


async def integration(runtime: Runtime, principal: Principal, integration_id: str) -> Integration:
    """One integration the key may manage (404/403 as the API answers)."""
    async with runtime.database.read() as db:
        return await integrations.integration_for_admin(db, principal, integration_id)


async def create_integration(
    runtime: Runtime, principal: Principal, body: IntegrationCreate
) -> Integration:
    """`POST /v1/admin/integrations/`."""
    if principal.integration_ids is not None:
        raise ApiError(403, "forbidden", "A key limited to some integrations cannot create one")
    async with runtime.database.write() as db:
        created = await integrations.create_integration(
            db, runtime.cipher, body, integrations.Guards.of(runtime)
        )
    runtime.notify_job_enqueued()
    return created


async def update_integration(
    runtime: Runtime, principal: Principal, integration_id: str, body: IntegrationUpdate
) -> Integration:
    """`PUT /v1/admin/integrations/{id}/` (enable, disable and edit)."""
    async with runtime.database.write() as db:
        found = await integrations.integration_for_admin(db, principal, integration_id)
        await integrations.update_integration(
            db, runtime.cipher, found, body, principal, integrations.Guards.of(runtime)
        )
    runtime.notify_job_enqueued()
    return found


async def sync_now(runtime: Runtime, principal: Principal, integration_id: str) -> str:
    """`POST …/manual-sync`: the job of the sync queued (or already queued or running)."""
    async with runtime.database.write() as db:
        found = await integrations.integration_for_admin(db, principal, integration_id)
        job = await integrations.request_sync(db, found, None)
    runtime.notify_job_enqueued()
    return job.id


async def check_credentials(
    runtime: Runtime, principal: Principal, integration_id: str
) -> tuple[bool, str]:
    """One cheap read with the integration's own credentials."""
    found = await integration(runtime, principal, integration_id)
    return await integrations.check_credentials(
        runtime.database, runtime.cipher, runtime.http(), found
    )


# ---- Sync runs ----------------------------------------------------------------------------------


async def sync_runs_of(
    runtime: Runtime, principal: Principal, integration_id: str
) -> list[dict[str, Any]]:
    """An integration's newest sync runs, newest first (`GET …/sync-runs`)."""
    async with runtime.database.read() as db:
        await integrations.integration_for_admin(db, principal, integration_id)
        page = await syncs.list_runs(
            db, integration_id, ListQuery(0, PAGE_SIZE * 2, [("started_at", "desc")])
        )
    runs: list[dict[str, Any]] = page["results"]
    return runs


# ---- Writes -------------------------------------------------------------------------------------


async def write_page(
    runtime: Runtime, principal: Principal, query: writes.WriteQuery
) -> tuple[list[dict[str, Any]], int, list[tuple[str, str, int]]]:
    """A page of writes, how many match, and (day, status, count) of all that match."""
    async with runtime.database.read() as db:
        rows, total = await writes.list_writes(db, principal, query)
        per_day = await writes.writes_per_day(db, principal, query)
    return rows, total, per_day


async def write_detail(runtime: Runtime, principal: Principal, job_id: str) -> dict[str, Any]:
    """One write whole (`writes.service.write_detail`)."""
    async with runtime.database.read() as db:
        return await writes.write_detail(db, principal, job_id)


async def retry_write(
    runtime: Runtime,
    recorder: WriteRecorder,
    principal: Principal,
    job_id: str,
    outcome_checked: bool,
) -> AcceptedWrite:
    """`POST /v1/admin/retry-write/{job_id}`: the same recorder, so the same rules (one live
    retry per chain; an unknown outcome retried only once checked)."""
    retry = await recorder.retry(principal, job_id, outcome_checked)
    runtime.notify_job_enqueued()
    return retry


# ---- Webhooks -----------------------------------------------------------------------------------


async def webhook_list(runtime: Runtime, principal: Principal) -> list[dict[str, Any]]:
    """The webhooks the key may see, active and inactive, newest first."""
    query = ListQuery(0, 100, [("created_at", "desc")])
    async with runtime.database.read() as db:
        active, _ = await webhooks.list_webhooks(db, principal, query, True)
        inactive, _ = await webhooks.list_webhooks(db, principal, query, False)
    return [present_webhook(runtime.cipher, hook) for hook in [*active, *inactive]]


async def deliveries(
    runtime: Runtime, principal: Principal, webhook_id: str, state: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A webhook and its newest deliveries with every attempt."""
    async with runtime.database.read() as db:
        hook = await webhooks.visible_webhook(db, principal, webhook_id)
        page = await webhooks.list_deliveries(
            db, webhook_id, ListQuery(0, PAGE_SIZE, [("created_at", "desc")]), state
        )
    return present_webhook(runtime.cipher, hook), page["results"]


async def redeliver(
    runtime: Runtime, principal: Principal, webhook_id: str, delivery_id: str
) -> None:
    """`POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver`."""
    async with runtime.database.write() as db:
        hook = await webhooks.visible_webhook(db, principal, webhook_id)
        await webhooks.redeliver(db, hook, delivery_id)
    runtime.notify_job_enqueued()


# ---- API keys -----------------------------------------------------------------------------------


def _unrestricted(principal: Principal) -> None:
    if principal.integration_ids is not None:
        raise ApiError(
            403, "forbidden", "Only an admin key limited to no integration may manage API keys"
        )


async def api_keys(runtime: Runtime, principal: Principal) -> list[ApiKey]:
    """Every key, newest first (revoked ones say when)."""
    _unrestricted(principal)
    async with runtime.database.read() as db:
        found, _ = await keys.list_api_keys(db, 0, 500)
    return found


async def create_api_key(
    runtime: Runtime,
    principal: Principal,
    name: str,
    scopes: list[str],
    integration_ids: list[str] | None,
    expires_in_days: int | None,
) -> tuple[ApiKey, str]:
    """A new key; its token is returned here once and stored only as a hash. Its allow-list
    names integrations that exist (400 otherwise), each once."""
    _unrestricted(principal)
    if integration_ids is not None:
        known = await integration_names(runtime, principal)
        unknown = [i for i in integration_ids if i not in known]
        if unknown:
            shown = ", ".join(i[:40] for i in unknown[:3])
            raise ApiError(400, "invalid_request", f"No such integration: {shown}")
        integration_ids = list(dict.fromkeys(integration_ids))
    try:
        async with runtime.database.write() as db:
            return await keys.issue_api_key(
                db, name, scopes, integration_ids, expires_in_days=expires_in_days
            )
    except ValueError as error:
        raise ApiError(400, "invalid_request", str(error)) from error


async def revoke_api_key(runtime: Runtime, principal: Principal, key_id: str) -> ApiKey | None:
    """Revoke a key (`DELETE /v1/admin/api-keys/{id}`)."""
    _unrestricted(principal)
    async with runtime.database.write() as db:
        return await keys.revoke_api_key(db, key_id)


# ---- Health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    """The deployment at a glance."""

    queue: QueueHealth
    engine: str
    revision: str | None
    head: str | None
    now: datetime


async def health(runtime: Runtime, principal: Principal) -> Health:
    """Queue depth by kind, the oldest waiting job, running jobs, workers seen, the database
    engine and its migration: the whole deployment's, so for keys limited to no integration."""
    if principal.integration_ids is not None:
        raise ApiError(
            403, "forbidden", "Only an admin key limited to no integration may see the health page"
        )
    async with runtime.database.read() as db:
        queue = await queue_health(db)
    return Health(
        queue,
        runtime.database.dialect,
        await current_revision(runtime.database),
        head_revision(),
        utcnow(),
    )
