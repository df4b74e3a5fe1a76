"""Creating, changing and presenting integrations; starting their syncs.

Never commits: the request owns the unit of work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.errors import ApiError, bad_request, issue, not_found
from propbridge.auth.service import Principal
from propbridge.connectors.base import IntegrationAccess
from propbridge.connectors.registry import supported_vendors
from propbridge.db.base import isoformat_z, utcnow
from propbridge.db.engine import Database
from propbridge.db.ids import new_id
from propbridge.db.table_versions import bump_table_versions
from propbridge.integrations.credentials import CredentialCipher
from propbridge.integrations.models import Integration
from propbridge.integrations.request_budget import RequestBudget
from propbridge.integrations.schemas import (
    CADENCE_SECONDS,
    IntegrationCreate,
    IntegrationSettings,
    IntegrationUpdate,
)
from propbridge.jobs import queue
from propbridge.jobs.models import ACTIVE_STATES, Job
from propbridge.jobs.scheduler import upsert_schedule

SYNC_JOB = "sync"
SYNCABLE_MODELS = (
    "properties",
    "charge_codes",
    "floor_plans",
    "units",
    "leases",
    "residents",
    "resident_charges",
    "resident_payments",
    "fees",
)
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
        SYNC_JOB,
        sync_interval_seconds(integration),
        active=integration.active and integration.deleted_at is None,
    )


async def get_integration(session: AsyncSession, integration_id: str) -> Integration | None:
    """A live (not deleted) integration."""
    integration = await session.get(Integration, integration_id)
    return None if integration is None or integration.deleted_at is not None else integration


async def integration_for_admin(
    session: AsyncSession, principal: Principal, integration_id: str
) -> Integration:
    """404 when absent, 403 when outside the key's allow-list."""
    integration = await get_integration(session, integration_id)
    if integration is None:
        raise not_found(f"Integration {integration_id}")
    if not principal.may_use(integration.id):
        raise ApiError(403, "forbidden", "This API key may not manage this integration")
    return integration


def _apply_settings(integration: Integration, body: IntegrationSettings) -> None:
    for name in SETTING_FIELDS:
        value = getattr(body, name)
        if value is not None or (name == "base_url" and name in body.model_fields_set):
            setattr(integration, name, value)


async def create_integration(
    session: AsyncSession, cipher: CredentialCipher, body: IntegrationCreate
) -> Integration:
    """Store a new integration with encrypted credentials and its sync schedule."""
    if body.integration_vendor not in supported_vendors():
        raise bad_request(
            f"Unsupported integration_vendor {body.integration_vendor!r}",
            [issue(["integration_vendor"], f"Supported: {', '.join(sorted(supported_vendors()))}")],
        )
    integration_id = new_id()
    integration = Integration(
        id=integration_id,
        name=body.name.strip(),
        vendor=body.integration_vendor,
        credentials_ciphertext=cipher.encrypt(integration_id, body.credentials.model_dump()),
    )
    _apply_settings(integration, body)
    session.add(integration)
    await session.flush()
    await _follow_schedule(session, integration)
    return integration


async def update_integration(
    session: AsyncSession,
    cipher: CredentialCipher,
    integration: Integration,
    body: IntegrationUpdate,
) -> Integration:
    """Change settings (and credentials, re-encrypted); the schedule follows."""
    _apply_settings(integration, body)
    if body.name is not None:
        integration.name = body.name.strip()
    if body.credentials is not None:
        integration.credentials_ciphertext = cipher.encrypt(
            integration.id, body.credentials.model_dump()
        )
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
    """Queue a sync, or return the one already queued or running."""
    return await queue.enqueue(
        session,
        SYNC_JOB,
        {"models": models},
        integration_id=integration.id,
        concurrency_key=f"{SYNC_JOB}:{integration.id}",
        max_attempts=3,
    )


async def list_integrations(session: AsyncSession, principal: Principal) -> list[Integration]:
    """Live integrations the key may manage, newest first."""
    statement = select(Integration).where(Integration.deleted_at.is_(None))
    if principal.integration_ids is not None:
        statement = statement.where(Integration.id.in_(principal.integration_ids))
    return list(
        (
            await session.execute(
                statement.order_by(Integration.created_at.desc(), Integration.id.desc())
            )
        ).scalars()
    )


async def running_sync_ids(session: AsyncSession, integration_ids: list[str]) -> set[str]:
    """Integrations with a sync queued or running."""
    rows = await session.execute(
        select(Job.integration_id).where(
            Job.kind == SYNC_JOB,
            Job.state.in_(ACTIVE_STATES),
            Job.integration_id.in_(integration_ids),
        )
    )
    return {r[0] for r in rows if r[0] is not None}


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


def present(integration: Integration, *, is_running_sync: bool = False) -> dict[str, Any]:
    """The integration object, with both of Propexo's vendor keys and no credentials."""
    models = {m: {"enabled": True, "from_interfaces": []} for m in SYNCABLE_MODELS}
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
        "can_authenticate": True,
        "last_data_access_check": None,
        "allow_manual_syncs": True,
        "configuration_meta_data": [],
        "is_running_sync": is_running_sync,
        "is_running_data_access_check": False,
        "ping_results": {},
        "use_custom_sync_schedule": False,
    }
