"""Issuing API keys and resolving a bearer token to the principal it stands for.

Never commits; the caller's unit of work does.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.auth.models import ApiKey

SCOPES = ("read", "write", "admin")
TOKEN_PREFIX = "pb_"  # noqa: S105  (a prefix, not a secret)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's scopes and the integrations it may touch (None: all)."""

    key_id: str
    scopes: frozenset[str]
    integration_ids: frozenset[str] | None
    rate_limit: int | None = None

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
    )
    session.add(key)
    await session.flush()
    return key, token


async def authenticate(session: AsyncSession, token: str) -> Principal | None:
    """The principal of a live key, or None for unknown or revoked tokens."""
    key = (
        await session.execute(select(ApiKey).where(ApiKey.token_hash == hash_token(token)))
    ).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    allowed = frozenset(key.integration_ids) if key.integration_ids else None
    return Principal(key.id, frozenset(key.scopes), allowed, key.rate_limit)
