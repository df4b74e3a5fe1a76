"""Every query of API keys. Never commits: the caller's unit of work does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.auth.models import ApiKey


async def add_key(session: AsyncSession, key: ApiKey) -> ApiKey:
    """Store a new key (its id assigned)."""
    session.add(key)
    await session.flush()
    return key


async def live_keys(session: AsyncSession) -> list[Any]:
    """What authenticating needs of every key not revoked."""
    rows = await session.execute(
        select(
            ApiKey.id,
            ApiKey.token_hash,
            ApiKey.scopes,
            ApiKey.integration_ids,
            ApiKey.rate_limit,
            ApiKey.expires_at,
        ).where(ApiKey.revoked_at.is_(None))
    )
    return list(rows)


async def page_of_keys(
    session: AsyncSession, offset: int, limit: int | None, order_by: list[tuple[str, str]]
) -> tuple[list[ApiKey], int]:
    """One page of every key in this order (ties by id), and how many there are in all."""
    columns = ApiKey.__table__.columns
    order = [
        columns[name].desc() if direction == "desc" else columns[name].asc()
        for name, direction in order_by
    ]
    statement = select(ApiKey).order_by(*order, ApiKey.id).offset(offset).limit(limit)
    total = (await session.execute(select(func.count(ApiKey.id)))).scalar_one()
    return list((await session.execute(statement)).scalars()), int(total)


async def key_by_id(session: AsyncSession, key_id: str) -> ApiKey | None:
    """A key, revoked or not."""
    return await session.get(ApiKey, key_id)


async def set_last_used(session: AsyncSession, key_id: str, at: datetime) -> None:
    """When a key was last used."""
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))
