"""Issuing API keys and resolving a bearer token to the principal it stands for.

Never commits; the caller's unit of work does.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.auth import repository
from propbridge.auth.models import ApiKey
from propbridge.db.base import isoformat_z, utcnow

SCOPES = ("read", "write", "admin")
TOKEN_PREFIX = "pb_"  # noqa: S105  (a prefix, not a secret)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's scopes and the integrations it may touch (None: all)."""

    key_id: str
    scopes: frozenset[str]
    integration_ids: frozenset[str] | None
    rate_limit: int | None = None
    expires_at: datetime | None = None

    @property
    def expired(self) -> bool:
        """The key's time is up (checked on every use, cached or not)."""
        return self.expires_at is not None and self.expires_at <= utcnow()

    def may_use(self, integration_id: str) -> bool:
        """True when the key's allow-list admits this integration."""
        return self.integration_ids is None or integration_id in self.integration_ids


def hash_token(token: str) -> str:
    """SHA-256 of a token: tokens are 256-bit random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_api_key(
    session: AsyncSession,
    name: str,
    scopes: list[str],
    integration_ids: list[str] | None,
    rate_limit: int | None = None,
    expires_in_days: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the token is returned once and stored only as a hash."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        token_prefix=token[:10],
        token_hash=hash_token(token),
        scopes=sorted(set(scopes)),
        integration_ids=integration_ids or None,
        rate_limit=rate_limit,
        expires_at=None if expires_in_days is None else utcnow() + timedelta(days=expires_in_days),
    )
    return await repository.add_key(session, key), token


def _principal(key: Any) -> Principal:
    allowed = frozenset(key.integration_ids) if key.integration_ids else None
    return Principal(key.id, frozenset(key.scopes), allowed, key.rate_limit, key.expires_at)


async def live_principals(session: AsyncSession) -> dict[str, Principal]:
    """Every key not revoked, by token hash (what a process keeps in memory to authenticate
    without a query per request)."""
    return {row.token_hash: _principal(row) for row in await repository.live_keys(session)}


async def list_api_keys(
    session: AsyncSession,
    offset: int = 0,
    limit: int | None = None,
    order_by: list[tuple[str, str]] | None = None,
) -> tuple[list[ApiKey], int]:
    """One page of keys (revoked ones included: they say when), newest first unless `order_by`
    (column, asc/desc) says otherwise; and how many there are in all."""
    return await repository.page_of_keys(
        session, offset, limit, order_by or [("created_at", "desc")]
    )


async def revoke_api_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    """Revoke a key (it stops authenticating at once here, within seconds everywhere); None if
    there is no such key. Revoking twice is harmless."""
    key = await repository.key_by_id(session, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


async def rotate_api_key(session: AsyncSession, key_id: str) -> tuple[ApiKey, str] | None:
    """A new token with the same name, scopes, allow-list, limit and expiry; the old one is
    revoked in the same transaction. None if there is no live key of that id."""
    old = await repository.key_by_id(session, key_id)
    if old is None or old.revoked_at is not None:
        return None
    old.revoked_at = utcnow()
    new, token = await issue_api_key(
        session, old.name, list(old.scopes), old.integration_ids, old.rate_limit
    )
    new.expires_at = old.expires_at
    return new, token


async def mark_used(session: AsyncSession, key_id: str) -> None:
    """Note that a key was just used."""
    await repository.set_last_used(session, key_id, utcnow())


def present_api_key(key: ApiKey) -> dict[str, Any]:
    """A key as the admin API and the CLI show it: never its token."""
    return {
        "id": key.id,
        "name": key.name,
        "token_prefix": key.token_prefix,
        "scopes": list(key.scopes),
        "integration_ids": key.integration_ids,
        "rate_limit": key.rate_limit,
        "created_at": isoformat_z(key.created_at),
        "expires_at": isoformat_z(key.expires_at),
        "last_used_at": isoformat_z(key.last_used_at),
        "revoked_at": isoformat_z(key.revoked_at),
    }
