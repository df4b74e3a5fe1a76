"""FastAPI dependencies: the runtime, a read session, and the authenticated principal.

Authentication only; what a principal may do with a record is decided by the domain's repository.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from propbridge.api.errors import ApiError
from propbridge.api.listing import refuse_unknown_params
from propbridge.auth.rate_limit import count_request
from propbridge.auth.service import Principal, hash_token, live_principals, mark_used
from propbridge.db.engine import Database

if TYPE_CHECKING:
    from propbridge.runtime import Runtime

# Revoking a key takes effect within this many seconds in every process.
PRINCIPAL_CACHE_SECONDS = 5.0
# Unknown tokens make a process read the keys again at most this often (a new key works within
# this time everywhere; a flood of bad tokens shares the reads).
MISS_REFRESH_SECONDS = 0.25
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


# What presenters read related tables on (residents' and leases' links): a Core connection.
Reader = AsyncConnection


def _unauthorised(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class PrincipalCache:
    """Every live key of the deployment, kept in memory by token hash: authenticating is a
    hash and a dictionary lookup, never a query per request.

    The snapshot is read again every `PRINCIPAL_CACHE_SECONDS` (so a key revoked in another
    process stops working within that time) and when a token is not in it (a key made since).
    Those re-reads are shared: however many unknown tokens arrive, a process reads the keys at
    most once per `MISS_REFRESH_SECONDS`, and the requests wait for that read instead of
    making their own, so a flood of bad tokens costs almost nothing."""

    def __init__(self) -> None:
        self._principals: dict[str, Principal] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()
        self._used: dict[str, float] = {}

    async def _refresh(self, database: Database, older_than: float, gap: float) -> None:
        """Read the keys again unless a read started after `older_than`, and no sooner than
        `gap` seconds after the last (waiting outside the lock, so that a request after a key
        that is known never waits behind a flood's unknown ones)."""
        while True:
            wait = self._loaded_at + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            async with self._lock:
                if self._loaded_at > older_than:
                    return  # a read that began after the caller asked: it saw what they need
                if self._loaded_at + gap > time.monotonic():
                    continue  # another read happened while we waited for the lock
                started = time.monotonic()
                async with database.read() as session:
                    self._principals = await live_principals(session)
                self._loaded_at = started
                return

    async def lookup(self, database: Database, token: str) -> Principal | None:
        """The live key behind a token, or None."""
        key = hash_token(token)
        asked = time.monotonic()
        if asked - self._loaded_at > PRINCIPAL_CACHE_SECONDS:
            await self._refresh(database, asked - PRINCIPAL_CACHE_SECONDS, 0.0)
        principal = self._principals.get(key)
        if principal is None:
            await self._refresh(database, asked, MISS_REFRESH_SECONDS)
            principal = self._principals.get(key)
        if principal is None or principal.expired:
            return None
        if self._used.get(principal.key_id, 0.0) < time.monotonic():
            self._used[principal.key_id] = time.monotonic() + LAST_USED_EVERY_SECONDS
            async with database.write() as session:
                await mark_used(session, principal.key_id)
        return principal

    def forget(self) -> None:
        """Read the keys again at the next lookup (after a key is revoked in this process)."""
        self._loaded_at = float("-inf")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None if absent or malformed."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def is_api_path(path: str) -> bool:
    """Whether a path is the API's (`/v1`), where every request needs a bearer token."""
    return path.startswith("/v1/") or path == "/v1"


async def authenticate(
    state: dict[str, Any], authorization: str | None, runtime: Runtime, cache: PrincipalCache
) -> Principal:
    """The caller behind `Authorization: Bearer <token>`, looked up and counted against its
    key's rate limit once per request: the principal is left in the request's `state`, where a
    second call finds it. 401 when the header is absent, malformed or names no live key; 429
    past the key's limit.

    The request-context layer calls this for every `/v1` request with a body before reading a
    byte of it (a header check: see `PrincipalCache`); `current_principal` for the others."""
    known: Principal | None = state.get("principal")
    if known is not None:
        return known
    if not authorization:
        raise _unauthorised("Missing Authorization header")
    token = bearer_token(authorization)
    if token is None:
        raise _unauthorised("Authorization must be 'Bearer <token>'")
    principal = await cache.lookup(runtime.database, token)
    if principal is None:
        raise _unauthorised("Unknown, expired or revoked API key")
    state["principal"] = principal
    await _apply_rate_limit(state, runtime, principal)
    return principal


async def current_principal(request: Request) -> Principal:
    """The caller of this request (see `authenticate`)."""
    # The request's state as the plain dict `request.state` wraps: read on every request, and
    # attribute access through `State` cost more than the lookup of the key itself.
    state: dict[str, Any] = request.scope.setdefault("state", {})
    known: Principal | None = state.get("principal")
    if known is not None:
        return known
    app_state = request.app.state
    return await authenticate(
        state, request.headers.get("authorization"), app_state.runtime, app_state.principal_cache
    )


async def _apply_rate_limit(state: dict[str, Any], runtime: Runtime, principal: Principal) -> None:
    """Count the request against its key's limit, if one applies; 429 past it."""
    limit = principal.rate_limit or runtime.settings.rate_limit_per_minute
    if not limit:
        return
    counted = await count_request(runtime.database, principal.key_id, limit)
    # The request-context middleware puts these on the response, whatever answers it.
    state["rate_limit_headers"] = counted.headers()
    if counted.exceeded:
        raise ApiError(
            429,
            "rate_limited",
            f"This API key is limited to {limit} requests per minute",
            headers={"Retry-After": str(counted.reset_seconds)},
        )


def declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares: those documented in its `openapi_extra` (the
    routes that read theirs by hand) and those FastAPI reads for it. Worked out once and kept
    on the route (routes compare by value, so they cannot key a cache)."""
    known: frozenset[str] | None = route.__dict__.get("declared_query")
    if known is None:
        known = route.__dict__["declared_query"] = _declared(route)
    return known


def _declared(route: APIRoute) -> frozenset[str]:
    extra = route.openapi_extra or {}
    names = {p["name"] for p in extra.get("parameters", []) if p.get("in") == "query"}
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names |= {param.alias for param in dependant.query_params}
        pending.extend(dependant.dependencies)
    return frozenset(names)


async def refuse_undeclared_query(request: Request) -> None:
    """Every route: 400 for a query parameter it does not declare (so none is ignored). On
    `/v1` the caller is authenticated first: a request without a valid token is a 401 whatever
    it asks (SPEC §3), and a refused one counts against the key's rate limit."""
    route = request.scope.get("route")
    if request.query_params and isinstance(route, APIRoute):
        if is_api_path(request.scope["path"]):
            await current_principal(request)
        refuse_unknown_params(request, declared_query(route))


def require_scope(*scopes: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates and then demands one of `scopes` (403 without any)."""
    needed = frozenset(scopes)
    named = " or ".join(repr(scope) for scope in scopes)
    message = f"This API key lacks the {named} scope"

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.scopes & needed:
            raise ApiError(403, "forbidden", message)
        return principal

    return dependency


class DirectRoute(APIRoute):
    """A route resolved without FastAPI's dependency solver, which (profiled under load) cost a
    record page more than its query did.

    It serves endpoints whose parameters are only the `Request`, path parameters and
    dependencies that are coroutine functions of the request alone (`require_scope`); the
    app's own dependencies (`refuse_undeclared_query`), which are such functions too, run
    first, as FastAPI would run them, whether the route was found by FastAPI's router or by the
    `RouteTable`. Anything else is refused when the route is made, so no declared parameter goes
    unread. The endpoint's signature still documents the route."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # What the `RouteTable` calls: request in, response out, no ASGI wrappers.
        self.direct = self.get_route_handler()

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Any]]:
        dependant = self.dependant
        unsupported = (
            dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or any(
                not asyncio.iscoroutinefunction(sub.call) or _takes_more_than_request(sub)
                for sub in dependant.dependencies
            )
        )
        if unsupported or dependant.call is None or dependant.request_param_name is None:
            raise TypeError(f"{self.path}: a DirectRoute endpoint takes the request alone")
        endpoint = dependant.call
        request_name = dependant.request_param_name
        named = [(sub.name, sub.call) for sub in dependant.dependencies if sub.name is not None]
        path = [(field.name, field.alias) for field in dependant.path_params]

        async def handler(request: Request) -> Any:
            for depends in request.app.router.dependencies:
                await depends.dependency(request)
            arguments: dict[str, Any] = {request_name: request}
            for name, call in named:
                arguments[name] = await call(request)  # type: ignore[misc]
            for name, alias in path:
                arguments[name] = request.path_params[alias]
            return await endpoint(**arguments)

        return handler


def _takes_more_than_request(dependant: Any) -> bool:
    """A dependency that needs anything but the request (which FastAPI would resolve)."""
    return bool(
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.dependencies
        or dependant.request_param_name is None
    )
