"""One error type that carries its HTTP status, and the handlers that render every error alike.

Rendering only: business rules raise `ApiError`, they never build responses themselves.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from propbridge.api.openapi import methods_at

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error a client caused or must know about, rendered as Propexo's error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def bad_request(message: str, issues: list[dict[str, Any]] | None = None) -> ApiError:
    """A 400 whose `details.issues` lists each problem with its path."""
    details = {"issues": issues, "name": "ValidationError"} if issues is not None else None
    return ApiError(400, "invalid_request", message, details)


def issue(path: list[str | int], message: str, code: str = "custom") -> dict[str, Any]:
    """One entry of `details.issues`."""
    return {"code": code, "path": path, "message": message}


def not_found(what: str) -> ApiError:
    """A 404 that says what was looked for, never whether it exists elsewhere."""
    return ApiError(404, "not_found", f"{what} was not found")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Propexo's error envelope."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    """The error envelope as a ready response (for middleware, outside the route handlers)."""
    return JSONResponse(error_body(code, message, details), status_code=status)


def response_of(error: ApiError) -> JSONResponse:
    """An `ApiError` as a ready response (for middleware), with its headers."""
    return JSONResponse(
        error_body(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
    )


def too_large(limit: int) -> ApiError:
    """413 for a request body over `limit` bytes."""
    return ApiError(413, "payload_too_large", f"Request bodies are limited to {limit} bytes")


# A 400 lists at most this many problems: a body of 2 MiB with a hundred thousand unknown keys
# was answered with 14 MB listing each (about a second of the event loop's time).
MAX_ISSUES = 100


def _validation_issues(error: RequestValidationError | ValidationError) -> list[dict[str, Any]]:
    issues = []
    for problem in islice(error.errors(), MAX_ISSUES):
        location = [str(p) if not isinstance(p, int) else p for p in problem.get("loc", ())]
        if location and location[0] in ("body", "query", "path"):
            location = location[1:]
        kind = str(problem.get("type", "invalid"))
        message = str(problem.get("msg", "invalid value"))
        # Pydantic prefixes the messages of our own validators with its own words.
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "extra_forbidden":
            kind, message = "unrecognized_keys", f"Unrecognized key: {location[-1]!r}"
        elif kind == "missing":
            message = "Required"
        issues.append({"code": kind, "path": location, "message": message})
    return issues


def method_not_allowed(request: Request) -> Response:
    """405 with every method the path takes in `Allow` (Starlette names only the first route's);
    a path that lacks its trailing slash, where the slashed one takes the method, is redirected
    there instead (307 keeps the method and body), as for paths no route matches at all."""
    path = request.url.path
    if not path.endswith("/") and request.method in methods_at(request.app, path + "/"):
        query = request.scope["query_string"].decode("latin-1")
        # Path and query only: the Host header is the client's to choose (see `app.py`).
        return RedirectResponse(path + "/" + (f"?{query}" if query else ""), status_code=307)
    allowed = ", ".join(sorted(methods_at(request.app, path)))
    return JSONResponse(
        error_body("method_not_allowed", f"{request.method} is not allowed here; use {allowed}"),
        status_code=405,
        headers={"Allow": allowed},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every failure as `{"error": {...}}`; never leak a stack trace."""

    @app.exception_handler(ApiError)
    async def on_api_error(_request: Request, error: ApiError) -> JSONResponse:
        return response_of(error)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        details = {"issues": _validation_issues(error), "name": "ValidationError"}
        return JSONResponse(
            error_body("invalid_request", "The request is not valid", details), status_code=400
        )

    @app.exception_handler(ValidationError)
    async def on_model_validation(_request: Request, error: ValidationError) -> JSONResponse:
        details = {"issues": _validation_issues(error), "name": "ValidationError"}
        return JSONResponse(
            error_body("invalid_request", "The request is not valid", details), status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 405:
            return method_not_allowed(request)
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            413: "payload_too_large",
        }
        message = str(error.detail) if error.detail else "error"
        if error.status_code == 404:
            message = "No such route"
        return JSONResponse(
            error_body(codes.get(error.status_code, "error"), message),
            status_code=error.status_code,
            headers=error.headers,
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unhandled_error", path=request.url.path, error_type=type(error).__name__)
        return JSONResponse(
            error_body("internal_error", "An internal error occurred"), status_code=500
        )
