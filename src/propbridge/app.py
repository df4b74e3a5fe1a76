"""The FastAPI application: routers, error rendering, request ids, health and readiness.

Wiring only; every rule lives in a domain package.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from propbridge import __version__
from propbridge.api.errors import error_body, install_error_handlers
from propbridge.billing.endpoints import router as billing_router
from propbridge.db.ids import new_id
from propbridge.integrations.endpoints import router as integrations_router
from propbridge.residents.endpoints import router as residents_router
from propbridge.runtime import Runtime

MAX_BODY_BYTES = 2 * 1024 * 1024


def create_app(runtime: Runtime) -> FastAPI:
    """The API for one process's runtime."""
    app = FastAPI(
        title="propbridge",
        version=__version__,
        description="Propexo-compatible unified PMS API (ResMan first). Extensions are marked.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.principal_cache = {}
    install_error_handlers(app)
    app.include_router(integrations_router)
    app.include_router(residents_router)
    app.include_router(billing_router)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or new_id()
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse(
                error_body(
                    "payload_too_large", f"Request bodies are limited to {MAX_BODY_BYTES} bytes"
                ),
                status_code=413,
            )
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.clear_contextvars()
        response.headers["x-request-id"] = request_id
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Any:
        try:
            async with runtime.database.read() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return {"status": "ready"}

    return app
