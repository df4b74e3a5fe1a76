"""Creating, changing and presenting integrations; starting their syncs.

Never commits: the request owns the unit of work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.destinations import require_destination
from propbridge.api.errors import ApiError, bad_request, issue, not_found
from propbridge.api.listing import ListQuery, run_list
from propbridge.auth.service import Principal
from propbridge.connectors.base import AuthenticationError, ConnectorError, IntegrationAccess
from propbridge.connectors.registry import account_key, connector_for, supported_vendors
from propbridge.db.base import isoformat_z, utcnow
from propbridge.db.engine import Database
from propbridge.db.ids import new_id
from propbridge.db.table_versions import bump_table_versions
from propbridge.integrations import repository
from propbridge.integrations.credentials import ConfigurationError, CredentialCipher
from propbridge.integrations.models import (
    DEFAULT_SYNC_CADENCE,
    DEFAULT_SYNC_FREQUENCY,
    Integration,
)
from propbridge.integrations.request_budget import RequestBudget
from propbridge.integrations.schemas import (
    CADENCE_SECONDS,
    IntegrationCreate,
    IntegrationSettings,
    IntegrationUpdate,
)
from propbridge.jobs import queue
from propbridge.jobs.kinds import JobKind, SyncPayload
from propbridge.jobs.models import Job
from propbridge.jobs.scheduler import MAX_INTERVAL_SECONDS, upsert_schedule
from propbridge.outbound import OutboundPolicy
from propbridge.sync import repository as sync_runs
from propbridge.sync.registry import SyncedModels

if TYPE_CHECKING:
    from propbridge.runtime import Runtime

SETTING_FIELDS = (
    "base_url",
    "active",
    "sync_frequency",
    "sync_cadence",
    "max_request_frequency",
    "max_request_cadence",
    "max_job_concurrency",
    "new_properties_are_enabled",
)


def sync_interval_seconds(integration: Integration) -> int:
    """The schedule's interval: `sync_frequency` × `sync_cadence`."""
    return integration.sync_frequency * CADENCE_SECONDS[integration.sync_cadence]


async def _follow_schedule(session: AsyncSession, integration: Integration) -> None:
    """Keep the integration's sync schedule in step with its frequency and active flag.

    Every change of an integration passes here, so it also marks the table changed (which
    records are visible depends on it)."""
    await bump_table_versions(session, ["integrations"])
    await upsert_schedule(
        session,
        integration.id,
        JobKind.SYNC,
        sync_interval_seconds(integration),
        active=integration.active and integration.deleted_at is None,
    )


async def integration_for_admin(
    session: AsyncSession, principal: Principal, integration_id: str
) -> Integration:
    """404 when absent, 403 when outside the key's allow-list."""
    integration = await repository.live_integration(session, integration_id)
    if integration is None:
        raise not_found(f"Integration {integration_id}")
    if not principal.may_use(integration.id):
        raise ApiError(403, "forbidden", "This API key may not manage this integration")
    return integration


def _apply_settings(
    integration: Integration, body: IntegrationSettings, min_interval_seconds: int
) -> None:
    for name in SETTING_FIELDS:
        value = getattr(body, name)
        if value is not None or (name == "base_url" and name in body.model_fields_set):
            setattr(integration, name, value)
    interval = sync_interval_seconds(integration)
    if interval < min_interval_seconds:
        raise bad_request(
            f"Syncs may run at most every {min_interval_seconds} seconds",
            [
                issue(
                    [field],
                    f"sync_frequency × sync_cadence must be at least {min_interval_seconds} s",
                )
                for field in ("sync_frequency", "sync_cadence")
            ],
        )
    if interval > MAX_INTERVAL_SECONDS:
        raise bad_request(
            f"Syncs must run at least once every {MAX_INTERVAL_SECONDS // 86400} days",
            [
                issue(
                    [field],
                    f"sync_frequency × sync_cadence must be at most {MAX_INTERVAL_SECONDS} s "
                    f"({MAX_INTERVAL_SECONDS // 86400} days); set active to false to stop syncing",
                )
                for field in ("sync_frequency", "sync_cadence")
            ],
        )


@dataclass(frozen=True)
class Guards:
    """The deployment's rules for integrations: where credentials may be sent, and how often a
    schedule may sync."""

    outbound: OutboundPolicy
    min_sync_interval_seconds: int

    @classmethod
    def of(cls, runtime: Runtime) -> Guards:
        """The rules a running propbridge was configured with."""
        return cls(runtime.outbound, runtime.settings.min_sync_interval_seconds)


async def create_integration(
    session: AsyncSession, cipher: CredentialCipher, body: IntegrationCreate, guards: Guards
) -> Integration:
    """Store a new integration with encrypted credentials and its sync schedule."""
    if body.integration_vendor not in supported_vendors():
        raise bad_request(
            f"Unsupported integration_vendor {body.integration_vendor!r}",
            [issue(["integration_vendor"], f"Supported: {', '.join(sorted(supported_vendors()))}")],
        )
    if body.base_url is not None:
        await require_destination(guards.outbound, body.base_url, "base_url")
    integration_id = new_id()
    credentials = body.credentials.model_dump()
    integration = Integration(
        id=integration_id,
        name=body.name.strip(),
        vendor=body.integration_vendor,
        credentials_ciphertext=cipher.encrypt(integration_id, credentials),
        account_key=account_key(body.integration_vendor, body.base_url, credentials),
        sync_frequency=DEFAULT_SYNC_FREQUENCY,
        sync_cadence=DEFAULT_SYNC_CADENCE,
    )
    _apply_settings(integration, body, guards.min_sync_interval_seconds)
    session.add(integration)
    await session.flush()
    await _follow_schedule(session, integration)
    return integration


async def update_integration(
    session: AsyncSession,
    cipher: CredentialCipher,
    integration: Integration,
    body: IntegrationUpdate,
    principal: Principal | None,
    guards: Guards,
) -> Integration:
    """Change settings (and credentials, re-encrypted); the schedule follows.

    Where credentials are sent is theirs to decide: changing `base_url` takes an admin key
    limited to no integration and the credentials again, so that a key allowed one
    integration cannot point it at its own server and read the credentials off the wire.
    (`principal` None: the operator, from the CLI or the demo.)"""
    moves = "base_url" in body.model_fields_set and body.base_url != integration.base_url
    if moves:
        if principal is not None and principal.integration_ids is not None:
            raise ApiError(
                403,
                "forbidden",
                "Only an admin key limited to no integration may change where credentials go",
            )
        if body.credentials is None:
            raise bad_request(
                "Changing base_url needs the credentials again",
                [issue(["credentials"], "Required when base_url changes")],
            )
        if body.base_url is not None:
            await require_destination(guards.outbound, body.base_url, "base_url")
    _apply_settings(integration, body, guards.min_sync_interval_seconds)
    if body.name is not None:
        integration.name = body.name.strip()
    if body.credentials is not None:
        credentials = body.credentials.model_dump()
        integration.credentials_ciphertext = cipher.encrypt(integration.id, credentials)
        integration.account_key = account_key(integration.vendor, integration.base_url, credentials)
        # New credentials are untried: how the old ones fared says nothing about them.
        integration.last_auth_ok = None
        integration.last_auth_at = None
    integration.updated_at = utcnow()
    await _follow_schedule(session, integration)
    return integration


async def delete_integration(session: AsyncSession, integration: Integration) -> None:
    """Archive: records stay (they are never deleted) but the integration is gone from the API."""
    integration.deleted_at = utcnow()
    integration.active = False
    integration.updated_at = utcnow()
    await _follow_schedule(session, integration)


async def request_sync(
    session: AsyncSession, integration: Integration, models: list[str] | None
) -> Job:
    """Queue a sync, or return the one already queued or running.

    A sync job still marked running whose lease has run out has no worker any more (it died
    or hung without renewing the lease): it is ended, with its run, and a new sync queued,
    without waiting for some worker's reaper (there may be none running)."""
    concurrency_key = f"{JobKind.SYNC}:{integration.id}"
    active = await queue.active_job(session, concurrency_key)
    if (
        active is not None
        and active.state == "running"
        and await queue.abandon_expired(session, active.id, sync_runs.WORKER_STOPPED)
    ):
        await sync_runs.end_unfinished_runs(session, active.id, utcnow())
    return await queue.enqueue(
        session,
        JobKind.SYNC,
        SyncPayload(models=models),
        integration_id=integration.id,
        concurrency_key=concurrency_key,
        max_attempts=3,
    )


def access_for(
    cipher: CredentialCipher, integration: Integration, database: Database | None = None
) -> IntegrationAccess:
    """Decrypted credentials for a connector (never logged, never returned), and, given the
    database, the integration's request budget."""
    budget = None
    if database is not None:
        budget = RequestBudget(
            database,
            integration.id,
            integration.max_request_frequency,
            integration.max_request_cadence,
        )
    return IntegrationAccess(
        integration.id,
        integration.base_url,
        cipher.decrypt(integration.id, integration.credentials_ciphertext),
        budget,
    )


def check_models(wanted: list[str] | None, synced: SyncedModels) -> None:
    """400 naming the models in `wanted` that are not synced."""
    unknown = synced.unknown(wanted or ())
    if unknown:
        message = f"Syncable models: {', '.join(synced.names)}"
        problem = issue(["models_to_sync"], message, "invalid_enum_value")
        raise ApiError(
            400, "invalid_request", f"Cannot sync {', '.join(unknown)}", {"issues": [problem]}
        )


def present(
    integration: Integration, synced: SyncedModels, *, is_running_sync: bool = False
) -> dict[str, Any]:
    """The integration object, with both of Propexo's vendor keys and no credentials."""
    models = {m: {"enabled": True, "from_interfaces": []} for m in synced.names}
    return {
        "id": integration.id,
        "created_at": isoformat_z(integration.created_at),
        "updated_at": isoformat_z(integration.updated_at),
        "name": integration.name,
        "vendor": integration.vendor,
        "integration_vendor": integration.vendor,
        "active": integration.active,
        "system": "PRODUCTION",
        "sync_frequency": integration.sync_frequency,
        "sync_cadence": integration.sync_cadence,
        "max_job_concurrency": integration.max_job_concurrency,
        "max_request_frequency": integration.max_request_frequency,
        "max_request_cadence": integration.max_request_cadence,
        "base_url": integration.base_url,
        "customer_id": "propbridge",
        "is_archived": integration.deleted_at is not None,
        "last_completed_sync": isoformat_z(integration.last_completed_sync),
        "last_completed_back_sync": None,
        "new_properties_are_enabled": integration.new_properties_are_enabled,
        "integration_interfaces": [],
        "models": models,
        # Until a call tells, new credentials are taken to work (as Propexo shows a new
        # integration); then it is what the PMS last answered.
        "can_authenticate": integration.last_auth_ok is not False,
        "last_data_access_check": None,
        "allow_manual_syncs": True,
        "configuration_meta_data": [],
        "is_running_sync": is_running_sync,
        "is_running_data_access_check": False,
        "ping_results": {},
        "use_custom_sync_schedule": False,
    }


ORDERABLE = {
    "created_at": Integration.created_at,
    "updated_at": Integration.updated_at,
    "name": Integration.name,
    "id": Integration.id,
}


async def list_integrations(
    session: AsyncSession,
    principal: Principal,
    query: ListQuery,
    synced: SyncedModels,
    archived: bool = False,
    vendor: str | None = None,
) -> dict[str, Any]:
    """The integrations a key may manage, a page of them (scoped before counting and paging):
    the live ones, or the archived ones; of one vendor if given."""
    statement = repository.live_integrations(principal.integration_ids, archived, vendor)
    rows, meta = await run_list(session, statement, query, ORDERABLE)
    running = await repository.running_sync_ids(session, [row.id for row in rows])
    return {
        "meta": meta,
        "results": [present(row, synced, is_running_sync=row.id in running) for row in rows],
    }


async def present_one(
    session: AsyncSession, integration: Integration, synced: SyncedModels
) -> dict[str, Any]:
    """One integration, with whether a sync of it is queued or running."""
    running = await repository.running_sync_ids(session, [integration.id])
    return present(integration, synced, is_running_sync=integration.id in running)


# How long a credentials check waits for the PMS.
CHECK_SECONDS = 20.0


async def first_page_count(vendor: str, access: IntegrationAccess, http: httpx.AsyncClient) -> int:
    """How many records one cheap read gives (the first page of properties)."""
    connector = connector_for(vendor, access, http)
    model = "properties" if "properties" in connector.sync_models else connector.sync_models[0]
    pages = connector.fetch(model, None)
    try:
        page: list[Any] = await anext(pages, [])
    finally:
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()
    return len(page)


async def check_credentials(
    database: Database, cipher: CredentialCipher, http: httpx.AsyncClient, integration: Integration
) -> tuple[bool, str]:
    """Try the integration's credentials with one cheap read (through the deployment's client,
    so its outbound policy applies); whether the PMS took them, and what happened in words.
    A refusal or an acceptance is recorded as a sync's would be."""
    ciphertext = integration.credentials_ciphertext
    try:
        access = access_for(cipher, integration)
        async with asyncio.timeout(CHECK_SECONDS):
            records = await first_page_count(integration.vendor, access, http)
    except TimeoutError:
        return False, f"The PMS did not answer within {CHECK_SECONDS:.0f} s"
    except AuthenticationError as error:
        async with database.write() as session:
            await repository.record_auth(session, integration.id, ciphertext, False, utcnow())
        return False, f"The PMS refused the credentials: {error.message}"
    except ConnectorError as error:
        return False, f"The PMS could not be read: {error.message}"
    except (ConfigurationError, KeyError, ValueError, httpx.HTTPError) as error:
        return False, f"The PMS cannot be called: {type(error).__name__}: {error}"
    async with database.write() as session:
        await repository.record_auth(session, integration.id, ciphertext, True, utcnow())
    return True, f"The PMS took the credentials ({records} properties read)"
