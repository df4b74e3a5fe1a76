"""The FastAPI application: routers, error rendering, request ids, health and readiness.

Wiring only; every rule lives in a domain package.
"""

from __future__ import annotations

from typing import Any, Literal

import structlog
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propbridge import __version__
from propbridge.api.dependencies import PrincipalCache, refuse_undeclared_query
from propbridge.api.docs import router as docs_router
from propbridge.api.errors import (
    error_response,
    install_error_handlers,
    response_of,
    too_large,
)
from propbridge.api.openapi import answers, build_openapi
from propbridge.api.record_reads import RecordReads
from propbridge.api.request_bodies import (
    form_body_problem,
    json_body_problem,
    nul_in_target,
    read_bounded_body,
    replay_body,
)
from propbridge.api.route_table import RouteTable
from propbridge.auth.endpoints import router as api_keys_router
from propbridge.billing.endpoints import router as billing_router
from propbridge.clock import Clock, set_clock
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
from propbridge.writes.endpoints import router as writes_router
from propbridge.writes.recorder import WriteRecorder

MAX_BODY_BYTES = 2 * 1024 * 1024


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _without_body(send: Send) -> Send:
    """A `send` that passes the headers (Content-Length included) but no body bytes."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head


class RequestContextMiddleware:
    """Request ids in logs and responses, the runtime's clock in effect, and bodies bounded
    before anything else sees them: at most `MAX_BODY_BYTES` however they are sent (a declared
    length, or counted while a chunked body streams in), no JSON body a parser would trip on
    (`json_body_problem`), no NUL in a path or query (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp, clock: Clock, routes: RouteTable) -> None:
        self.app = app
        self.clock = clock
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:100] or new_id()
        length = headers.get(b"content-length", b"")
        if nul_in_target(scope["path"], scope["query_string"]):
            await error_response(
                400, "invalid_request", "NUL characters are not accepted in a path or query"
            )(scope, receive, send)
            return
        if scope["method"] in BODY_METHODS:
            # Other methods' bodies are never read, so their size does not matter.
            if length.isdigit() and int(length) > MAX_BODY_BYTES:
                await too_large(MAX_BODY_BYTES)(scope, receive, send)
                return
            body = await read_bounded_body(receive, MAX_BODY_BYTES)
            if body is None:
                await too_large(MAX_BODY_BYTES)(scope, receive, send)
                return
            problem = None
            if body:
                content_type = headers.get(b"content-type", b"")
                problem = json_body_problem(body)
                if not scope["path"].startswith(CONSOLE_PATH):
                    # The console's pages post forms; nothing else takes one.
                    problem = form_body_problem(content_type) or problem
            if problem is not None:
                await response_of(problem)(scope, receive, send)
                return
            receive = replay_body(body)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                    *scope.get("state", {}).get("rate_limit_headers", []),
                ]
            await send(message)

        reply: Send = send_with_id
        if scope["method"] == "HEAD":
            # HEAD is GET without the body, on every GET route (FastAPI routes take only GET).
            scope = {**scope, "method": "GET"}
            reply = _without_body(send_with_id)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        set_clock(self.clock)
        try:
            found = self.routes.find(scope)
            if found is not None:
                await self.routes.serve(found, scope, receive, reply)
            else:
                await self.app(scope, receive, reply)
        finally:
            structlog.contextvars.clear_contextvars()


class PropbridgeAPI(FastAPI):
    """FastAPI with the request context outermost, where it also serves the record routes of
    the `RouteTable` (see `api/route_table.py`)."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestContextMiddleware(
            super().build_middleware_stack(), self.state.runtime.clock, self.state.route_table
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
        principals=app.state.principal_cache,
        max_body=MAX_BODY_BYTES,
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
