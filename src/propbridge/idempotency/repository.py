"""Every query of idempotency keys. Never commits: the caller's transaction does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from propbridge.db.engine import Executor
from propbridge.idempotency.models import IdempotencyKey


async def insert_claim(db: Executor, owner: str, key: str, fingerprint: str, at: datetime) -> None:
    """Claim a key (IntegrityError when another request holds it)."""
    await db.execute(
        insert(IdempotencyKey).values(owner=owner, key=key, fingerprint=fingerprint, created_at=at)
    )


async def find(db: Executor, owner: str, key: str) -> Any | None:
    """A key as it is stored, with its response if one was kept."""
    return (
        await db.execute(
            select(
                IdempotencyKey.id,
                IdempotencyKey.fingerprint,
                IdempotencyKey.state,
                IdempotencyKey.status_code,
                IdempotencyKey.content_type,
                IdempotencyKey.response_body,
                IdempotencyKey.created_at,
            ).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
        )
    ).first()


async def delete_by_id(db: Executor, row_id: str) -> None:
    """Forget one stored key."""
    await db.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))


async def delete_claim(db: Executor, owner: str, key: str) -> None:
    """Free a key (its request did not succeed)."""
    await db.execute(
        delete(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
    )


async def store_response(
    db: Executor,
    owner: str,
    key: str,
    status: int,
    content_type: str | None,
    sealed_body: bytes,
) -> None:
    """Keep a succeeded request's response under its key."""
    await db.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
        .values(
            state="done", status_code=status, content_type=content_type, response_body=sealed_body
        )
    )


async def delete_older_than(db: Executor, moment: datetime) -> int:
    """Forget every key made before `moment`; how many."""
    result = await db.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < moment))
    return int(getattr(result, "rowcount", 0) or 0)
