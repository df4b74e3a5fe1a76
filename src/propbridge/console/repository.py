"""The console's queries: its sessions, and how many records each integration holds.

Every other figure a console page shows comes from its domain's own service.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from propbridge.console.models import ConsoleSessionRow
from propbridge.db.engine import Executor
from propbridge.db.ids import new_id

# Ended or expired sessions are kept this long (they say when someone signed in), then dropped.
KEPT_AFTER_END = timedelta(days=30)


async def record_counts(db: Executor, table: Any, integration_ids: Sequence[str]) -> dict[str, int]:
    """How many records of one synced table each of these integrations holds."""
    rows = await db.execute(
        select(table.c.integration_id, func.count())
        .where(table.c.integration_id.in_(integration_ids))
        .group_by(table.c.integration_id)
    )
    return {str(integration_id): int(count) for integration_id, count in rows}


async def start_session(db: Executor, api_key_id: str, now: datetime, expires_at: datetime) -> str:
    """A new session row (and the old ones past keeping dropped); its id."""
    await db.execute(
        delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < now - KEPT_AFTER_END)
    )
    session_id = new_id()
    await db.execute(
        insert(ConsoleSessionRow).values(
            id=session_id, api_key_id=api_key_id, created_at=now, expires_at=expires_at
        )
    )
    return session_id


async def live_session_key(db: Executor, session_id: str, now: datetime) -> str | None:
    """The key of a session neither ended nor expired; None otherwise."""
    key: str | None = (
        await db.execute(
            select(ConsoleSessionRow.api_key_id).where(
                ConsoleSessionRow.id == session_id,
                ConsoleSessionRow.ended_at.is_(None),
                ConsoleSessionRow.expires_at > now,
            )
        )
    ).scalar()
    return key


async def end_session(db: Executor, session_id: str, now: datetime) -> None:
    """Sign a session out."""
    await db.execute(
        update(ConsoleSessionRow)
        .where(ConsoleSessionRow.id == session_id, ConsoleSessionRow.ended_at.is_(None))
        .values(ended_at=now)
    )
