"""Every query of integrations: the live ones, a key's list (scoped in the statement, before
counting and paging), their running syncs, their last sync, how their credentials fared, their
job caps.

Never commits: the request or the job owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.base import utcnow
from propbridge.db.engine import Executor
from propbridge.integrations.models import Integration
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.models import ACTIVE_STATES, Job


async def live_integration(session: AsyncSession, integration_id: str) -> Integration | None:
    """An integration that is not deleted."""
    integration = await session.get(Integration, integration_id)
    return None if integration is None or integration.deleted_at is not None else integration


def live_integrations(
    integration_ids: frozenset[str] | None,
    archived: bool = False,
    vendor: str | None = None,
) -> Select[Any]:
    """Every column of the live integrations (`archived`: of the archived ones instead), of one
    vendor if given, limited to `integration_ids` (None: all)."""
    deleted = Integration.deleted_at.is_not(None) if archived else Integration.deleted_at.is_(None)
    statement = select(*Integration.__table__.columns).where(deleted)
    if vendor is not None:
        statement = statement.where(Integration.vendor == vendor)
    if integration_ids is not None:
        statement = statement.where(Integration.id.in_(integration_ids))
    return statement


async def running_sync_ids(db: Executor, integration_ids: Sequence[str]) -> set[str]:
    """Integrations with a sync queued or running. A job still marked running whose lease
    ran out is not running: its worker stopped heart-beating (it died or hung)."""
    rows = await db.execute(
        select(Job.integration_id).where(
            Job.kind == JobKind.SYNC,
            Job.state.in_(ACTIVE_STATES),
            Job.integration_id.in_(integration_ids),
            or_(
                Job.state != "running",
                Job.lease_expires_at.is_(None),
                Job.lease_expires_at >= utcnow(),
            ),
        )
    )
    return {r[0] for r in rows if r[0] is not None}


async def mark_synced(db: Executor, integration_id: str, at: datetime) -> None:
    """A sync of the integration completed."""
    await db.execute(
        update(Integration).where(Integration.id == integration_id).values(last_completed_sync=at)
    )


async def record_auth(
    db: Executor, integration_id: str, credentials_used: bytes, ok: bool, at: datetime
) -> None:
    """The PMS took (`ok`) or refused the credentials of a call made at `at`.

    Only when those credentials are still the integration's (a call started before they were
    replaced says nothing about the new ones), and only when the answer changes."""
    await db.execute(
        update(Integration)
        .where(
            Integration.id == integration_id,
            Integration.credentials_ciphertext == credentials_used,
            or_(Integration.last_auth_ok.is_(None), Integration.last_auth_ok != ok),
        )
        .values(last_auth_ok=ok, last_auth_at=at)
        .execution_options(synchronize_session=False)
    )


async def job_caps(db: Executor, integration_ids: Sequence[str]) -> dict[str, int]:
    """Each integration's `max_job_concurrency`."""
    rows = await db.execute(
        select(Integration.id, Integration.max_job_concurrency).where(
            Integration.id.in_(integration_ids)
        )
    )
    return {integration_id: int(cap) for integration_id, cap in rows}
