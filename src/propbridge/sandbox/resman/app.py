"""The ResMan sandbox as one ASGI app: the v1 and v2 surfaces, the control plane and the page.

Composition only: each surface is a router of its own module; unknown routes are 404s.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from propbridge.sandbox.resman import control, page, v1, v2
from propbridge.sandbox.resman.faults import FaultMiddleware, FaultState
from propbridge.sandbox.resman.state import Sandbox, SandboxConfig
from propbridge.sandbox.resman.store import SandboxStore
from propbridge.sandbox.resman.xml_io import envelope

__all__ = ["SandboxConfig", "create_sandbox_app"]


def create_sandbox_app(store: SandboxStore, config: SandboxConfig) -> FastAPI:
    """The ResMan sandbox."""
    app = FastAPI(title="ResMan sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    faults = FaultState()
    faults.configure(config.faults)
    app.state.sandbox = Sandbox(store, config, faults)
    app.add_middleware(
        FaultMiddleware,
        state=faults,
        envelope_error=envelope(
            "PostResidentTransactions2_0",
            config.account_id,
            None,
            "Error",
            "The request could not be processed at this time",
        ),
    )
    # The control plane and the page before v1's catch-all `POST /{area}/{method}`.
    app.include_router(control.router)
    app.include_router(page.router)
    app.include_router(v2.router)
    app.include_router(v1.router)

    @app.exception_handler(v2.V2Problem)
    async def on_v2_problem(_request: Request, problem: v2.V2Problem) -> JSONResponse:
        return v2.v2_error(problem.status, str(problem))

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(path: str) -> Response:
        """What ResMan answers a route it does not have: 404 (v2's error body)."""
        return v2.v2_error(404, f"No resource at /{path}")

    return app
