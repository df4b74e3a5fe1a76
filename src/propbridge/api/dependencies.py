"""FastAPI dependencies: the runtime, a read session, and the authenticated principal.

Authentication only; what a principal may do with a record is decided by the domain's repository.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from propbridge.api.errors import ApiError
from propbridge.auth.rate_limit import count_request
from propbridge.auth.service import Principal, authenticate, hash_token, mark_used
from propbridge.db.engine import Database
from propbridge.runtime import Runtime

# Revoking a key takes effect within this many seconds in every process.
PRINCIPAL_CACHE_SECONDS = 5.0
# A key's `last_used_at` is written at most this often per process.
LAST_USED_EVERY_SECONDS = 60.0


def get_runtime(request: Request) -> Runtime:
    """The process's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for queries, closed after the response."""
    async with get_runtime(request).database.read() as session:
        yield session


# What record reads run on: a Core connection (the ORM's session costs more per request than
# the queries of a list page do).
Reader = AsyncConnection


async def read_connection(request: Request) -> AsyncIterator[Reader]:
    """A Core connection for record reads, returned to the pool after the response."""
    async with get_runtime(request).database.read_connection() as connection:
        yield connection


def _unauthorised(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class PrincipalCache:
    """Who each token is, remembered for `PRINCIPAL_CACHE_SECONDS` (so revoking a key takes
    effect within that time in every process); unknown tokens are remembered too, so a flood of
    bad tokens costs one lookup each at most."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._used: dict[str, float] = {}
        self._max_entries = max_entries

    async def lookup(self, database: Database, token: str) -> Principal | None:
        """The live key behind a token, or None."""
        key = hash_token(token)
        cached = self._entries.get(key)
        if cached is not None and cached[0] > time.monotonic():
            principal = cached[1]
        else:
            async with database.read() as session:
                principal = await authenticate(session, token)
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + PRINCIPAL_CACHE_SECONDS, principal)
        if principal is not None and principal.expired:
            return None
        if principal is not None and self._used.get(principal.key_id, 0.0) < time.monotonic():
            self._used[principal.key_id] = time.monotonic() + LAST_USED_EVERY_SECONDS
            async with database.write() as session:
                await mark_used(session, principal.key_id)
        return principal

    def forget(self) -> None:
        """Drop everything remembered (after a key is revoked in this process)."""
        self._entries.clear()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None if absent or malformed."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


async def current_principal(request: Request) -> Principal:
    """The caller behind `Authorization: Bearer <token>`; 401 when absent, malformed or unknown."""
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorised("Missing Authorization header")
    token = bearer_token(header)
    if token is None:
        raise _unauthorised("Authorization must be 'Bearer <token>'")
    cache: PrincipalCache = request.app.state.principal_cache
    principal = await cache.lookup(get_runtime(request).database, token)
    if principal is None:
        raise _unauthorised("Unknown, expired or revoked API key")
    request.state.principal = principal
    if not getattr(request.state, "rate_counted", False):
        request.state.rate_counted = True
        await _apply_rate_limit(request, principal)
    return principal


async def _apply_rate_limit(request: Request, principal: Principal) -> None:
    """Count the request against its key's limit, if one applies; 429 past it."""
    runtime = get_runtime(request)
    limit = principal.rate_limit or runtime.settings.rate_limit_per_minute
    if not limit:
        return
    state = await count_request(runtime.database, principal.key_id, limit)
    # The request-context middleware puts these on the response, whatever the route returns.
    request.state.rate_limit_headers = state.headers()
    if state.exceeded:
        raise ApiError(
            429,
            "rate_limited",
            f"This API key is limited to {limit} requests per minute",
            headers={"Retry-After": str(state.reset_seconds)},
        )


def require_scope(scope: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates and then demands one scope (403 without it)."""

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if scope not in principal.scopes:
            raise ApiError(403, "forbidden", f"This API key lacks the {scope!r} scope")
        return principal

    return dependency
