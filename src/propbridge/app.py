"""The FastAPI application: routers, error rendering, request ids, health and readiness.

Wiring only; every rule lives in a domain package.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import structlog
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propbridge import __version__
from propbridge.api.dependencies import (
    PrincipalCache,
    authenticate,
    is_api_path,
    refuse_undeclared_query,
)
from propbridge.api.docs import router as docs_router
from propbridge.api.errors import (
    ApiError,
    bad_request,
    install_error_handlers,
    response_of,
    too_large,
)
from propbridge.api.openapi import answers, build_openapi
from propbridge.api.record_reads import RecordReads
from propbridge.api.request_bodies import (
    BodyBounds,
    arrived_whole,
    checked_json_body,
    form_body_problem,
    nul_in_target,
    read_bounded_body,
    replay_body,
)
from propbridge.api.route_table import RouteTable
from propbridge.auth.endpoints import router as api_keys_router
from propbridge.billing.endpoints import router as billing_router
from propbridge.clock import set_clock
from propbridge.config import Settings
from propbridge.console.endpoints import router as console_router
from propbridge.console.session import PATH as CONSOLE_PATH
from propbridge.db.ids import new_id
from propbridge.idempotency.middleware import IdempotencyMiddleware
from propbridge.integrations.endpoints import router as integrations_router
from propbridge.residents.endpoints import router as residents_router
from propbridge.runtime import Runtime
from propbridge.sync.endpoints import router as sync_router
from propbridge.units.endpoints import router as units_router
from propbridge.webhooks.endpoints import router as webhooks_router
from propbridge.writes.endpoints import LARGE_BODY_PATHS
from propbridge.writes.endpoints import router as writes_router
from propbridge.writes.recorder import WriteRecorder

# The routes that take many items in one body (a batch of 1,000 charges) read up to this; every
# other API route one object of a few fields, up to `MAX_API_BODY_BYTES`: what a body costs to
# parse and validate stays small wherever a route does not need it to be large.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_API_BODY_BYTES = 64 * 1024
# The console's forms (sign-in, an integration, a key, a retry) are well under 2 KB; its
# sign-in is unauthenticated by nature, so this is all a stranger can make us read and parse.
MAX_FORM_BODY_BYTES = 64 * 1024


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def api_body_bounds(settings: Settings, max_bytes: int = MAX_BODY_BYTES) -> BodyBounds:
    """What an API request's body may be: `max_bytes`, sent in the configured time."""
    return BodyBounds(max_bytes, settings.body_timeout_seconds, settings.body_total_timeout_seconds)


def _without_body(send: Send) -> Send:
    """A `send` that passes the headers (Content-Length included) but no body bytes."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head


def relative_location(location: bytes) -> bytes:
    """A redirect's target as path and query only: Starlette builds it from the request's
    `Host` header, which is the client's to choose (a cache or a link in a log would send the
    next client there). Leading slashes are made one: a browser reads `//host/…` (or `/\\…`)
    as another host, and a request for `//evil.example/x` would be redirected there."""
    scheme_end = location.find(b"://")
    if scheme_end >= 0 and b"/" not in location[:scheme_end]:
        path_start = location.find(b"/", scheme_end + 3)
        location = b"/" if path_start < 0 else location[path_start:]
    if location[:1] in (b"/", b"\\"):
        location = b"/" + location.lstrip(b"/\\")
    return location


class RequestContextMiddleware:
    """Request ids in logs and responses, the runtime's clock in effect, redirects that name no
    host, and nothing read of a body before it is known to be wanted (pure ASGI: no
    per-request task).

    A body is read only on `/v1`, once the caller is authenticated (`authenticate`: a header
    check, answered 401 or 429 before a byte of the body is read), and on the console's
    pages (at most `MAX_FORM_BODY_BYTES`); no other path takes one, so it is never read there.
    What is read is bounded in size and time (`read_bounded_body`: 413, 408) and must be JSON a
    parser would not trip on (`checked_json_body`). No NUL in a path or query."""

    def __init__(
        self, app: ASGIApp, runtime: Runtime, cache: PrincipalCache, routes: RouteTable
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.clock = runtime.clock
        self.cache = cache
        self.routes = routes
        self.large_bodies = api_body_bounds(runtime.settings)
        self.api_bodies = replace(self.large_bodies, max_bytes=MAX_API_BODY_BYTES)
        self.form_bodies = replace(self.large_bodies, max_bytes=MAX_FORM_BODY_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:100] or new_id()
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer_headers = message.get("headers", [])
                if 300 <= message["status"] < 400:
                    answer_headers = [
                        (name, relative_location(value) if name.lower() == b"location" else value)
                        for name, value in answer_headers
                    ]
                message["headers"] = [
                    *answer_headers,
                    (b"x-request-id", request_id.encode("latin-1")),
                    *state.get("rate_limit_headers", []),
                    # Answered without its body read: the connection ends after this answer
                    # (said here, so that no client sends its next request on it).
                    *([(b"connection", b"close")] if state.get("body_unread") else []),
                ]
            await send(message)

        reply: Send = send_with_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        set_clock(self.clock)
        try:
            try:
                if nul_in_target(scope["path"], scope["query_string"]):
                    raise bad_request("NUL characters are not accepted in a path or query")
                if scope["method"] in BODY_METHODS:
                    receive = await self._body(scope, headers, state, receive)
            except ApiError as refused:
                if state.get("body_unread"):
                    state["body_unread"] = not await arrived_whole(receive, headers)
                await response_of(refused)(scope, receive, reply)
                return
            if scope["method"] == "HEAD":
                # HEAD is GET without the body, on every GET route (FastAPI routes take only GET).
                scope = {**scope, "method": "GET"}
                reply = _without_body(send_with_id)
            found = self.routes.find(scope)
            if found is not None:
                await self.routes.serve(found, scope, receive, reply)
            else:
                await self.app(scope, receive, reply)
        finally:
            structlog.contextvars.clear_contextvars()

    async def _body(
        self, scope: Scope, headers: dict[bytes, bytes], state: dict[str, Any], receive: Receive
    ) -> Receive:
        """The request's body, read if this path takes one, as a `receive` that replays it;
        `ApiError` for the answer instead (401 and 429 before anything is read)."""
        path: str = scope["path"]
        length = headers.get(b"content-length", b"")
        state["body_unread"] = b"transfer-encoding" in headers or length not in (b"", b"0")
        if is_api_path(path):
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            await authenticate(state, authorization, self.runtime, self.cache)
            large = path.rstrip("/") + "/" in LARGE_BODY_PATHS  # its redirect too
            bounds = self.large_bodies if large else self.api_bodies
        elif path == CONSOLE_PATH or path.startswith(f"{CONSOLE_PATH}/"):
            bounds = self.form_bodies
        else:
            # No route here takes a body: a 404 or 405, the body unread.
            if state["body_unread"]:
                state["body_unread"] = not await arrived_whole(receive, headers)
            return replay_body(b"")
        if length.isdigit() and int(length) > bounds.max_bytes:
            raise too_large(bounds.max_bytes)
        body = await read_bounded_body(receive, bounds)
        state["body_unread"] = False
        if body:
            problem, document = await checked_json_body(body)
            state["json_body"] = document  # the routes that read a large body take it
            if bounds is not self.form_bodies:
                # The console's pages post forms; nothing else takes one.
                problem = form_body_problem(headers.get(b"content-type", b"")) or problem
            if problem is not None:
                raise problem
        return replay_body(body)


class PropbridgeAPI(FastAPI):
    """FastAPI with the request context outermost, where it also serves the record routes of
    the `RouteTable` (see `api/route_table.py`)."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestContextMiddleware(
            super().build_middleware_stack(),
            self.state.runtime,
            self.state.principal_cache,
            self.state.route_table,
        )


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"]


class Ready(BaseModel):
    """The database answers."""

    status: Literal["ready"]


class Unavailable(BaseModel):
    """The database does not answer."""

    status: Literal["unavailable"]


def operation_id(route: APIRoute) -> str:
    """An operation's id is its route's name (`list_residents`, `create_webhook`): what
    generated clients call their functions."""
    return route.name


def create_app(runtime: Runtime) -> FastAPI:
    """The API for one process's runtime."""
    app = PropbridgeAPI(
        # No OpenTelemetry here: FastAPI's check for configured providers cost every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="propbridge",
        version=__version__,
        description="Propexo-compatible unified PMS API (ResMan first). Extensions are marked.",
        openapi_url="/openapi.json",
        docs_url=None,  # ours, with assets from the installed package (api/docs.py)
        redoc_url=None,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(refuse_undeclared_query)],
    )
    app.state.runtime = runtime
    app.state.principal_cache = PrincipalCache()
    app.state.write_recorder = WriteRecorder(runtime.database)
    app.state.record_reads = RecordReads(runtime.database.raw)
    install_error_handlers(app)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    routers = [
        integrations_router,
        api_keys_router,
        residents_router,
        units_router,
        billing_router,
        writes_router,
        sync_router,
        webhooks_router,
        docs_router,
        console_router,
    ]
    for router in routers:
        app.include_router(router)
    app.state.route_table = RouteTable(app, routers)

    app.add_middleware(
        IdempotencyMiddleware,
        runtime=runtime,
        bounds=api_body_bounds(runtime.settings),
    )

    @app.get("/healthz", tags=["health"], **answers(Health, extension=True))
    async def healthz() -> dict[str, str]:
        """The process answers (no dependency is checked)."""
        return {"status": "ok"}

    ready = answers(Ready, extension=True)
    ready["responses"][503] = {"model": Unavailable, "description": "The database does not answer."}

    @app.get("/readyz", tags=["health"], **ready)
    async def readyz() -> Any:
        """The process can serve: its database answers."""
        try:
            async with runtime.database.read() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return {"status": "ready"}

    return app
