"""`/openapi.json`: FastAPI's document, finished so that it says exactly what the server does.

Routes declare what only they know (their query parameters, the schema of their 200, a 405 or
a body read by hand); what holds for every route is added here, once: the bearer scheme, the
error envelope for each status a route can answer (400 and 401 everywhere, 403 where a scope is
needed, 404 where a path names something, 409 and `Idempotency-Key` on every POST, 408 and 413
where a body is read, 429 when a key is rate limited), and the marks on what is ours, not Propexo's.
FastAPI's 422 goes: every validation failure here is a 400.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Generic, Literal, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from propbridge.api.parameters import EXTENSION

EXTENSION_TAG = "propbridge extensions"
Item = TypeVar("Item")
# A route's `openapi_extra` may carry schemas for `components` under this key (records'
# schemas are built with their routes); they are moved there when the document is made.
COMPONENTS_KEY = "x-components"
BODY_METHODS = ("post", "put", "patch")


class Issue(BaseModel):
    """One problem with a request: where it is and what is wrong (for a reused write
    reference, the job of the write that holds it)."""

    model_config = ConfigDict(extra="forbid")
    code: str
    path: list[str | int]
    message: str
    job_id: str | None = Field(default=None, json_schema_extra={EXTENSION: True})


class ErrorDetails(BaseModel):
    """What some errors add: a 400's problems, each with its path (and, for a body that failed
    validation, `name`); a 409 for a reused write reference names the holder's job, and each
    clashing field among its issues."""

    model_config = ConfigDict(extra="forbid")
    issues: list[Issue] | None = Field(default=None)
    name: Literal["ValidationError"] | None = Field(default=None)
    job_id: str | None = Field(default=None, json_schema_extra={EXTENSION: True})


class ErrorObject(BaseModel):
    """A machine-readable `code`, a message for people, and details for some 400s."""

    model_config = ConfigDict(extra="forbid")
    code: str
    message: str
    details: ErrorDetails | None = Field(default=None)


class ErrorResponse(BaseModel):
    """Every error answer: `{"error": {...}}`."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorObject


class Ordering(BaseModel):
    """One field of `order-by` and its direction."""

    model_config = ConfigDict(extra="forbid")
    field: str
    direction: Literal["asc", "desc"]


class ListMeta(BaseModel):
    """Where a page sits in the whole list."""

    model_config = ConfigDict(extra="forbid")
    offset: int = Field(ge=0)
    limit: int = Field(ge=1, le=250)
    orderBy: list[Ordering]
    hasMore: bool
    total: int = Field(ge=0)


class Page(BaseModel, Generic[Item]):
    """A list answer: where the page sits, and its records. Subclassed with a name per record
    (`class WebhookList(Page[WebhookObject])`), so that documents and clients name it."""

    model_config = ConfigDict(extra="forbid")
    meta: ListMeta
    results: list[Item]


class One(BaseModel, Generic[Item]):
    """A by-ID answer: the list envelope with one record in `results`."""

    model_config = ConfigDict(extra="forbid")
    meta: ListMeta
    results: Item


class Result(BaseModel, Generic[Item]):
    """An answer to a change: `{"result": ...}`."""

    model_config = ConfigDict(extra="forbid")
    result: Item


ERROR_MEANINGS = {
    400: "The request is not valid: a malformed or unknown query parameter or body field, a "
    "reference to something that does not exist, or a rule of the operation broken.",
    401: "No bearer token, or one that is malformed, unknown, expired or revoked.",
    403: "The API key lacks the scope this route needs, or may not act on this integration.",
    404: "Nothing with that id is visible to this API key.",
    405: "The integration's PMS does not support this operation.",
    409: "An `Idempotency-Key` reused with a different request or still in progress, or a write "
    "that repeats an earlier one with different contents.",
    408: "The request body stalled: a pause longer than `PROPBRIDGE_BODY_TIMEOUT_SECONDS`, or not "
    "whole within `PROPBRIDGE_BODY_TOTAL_TIMEOUT_SECONDS`. The connection is closed after it.",
    413: "The request body is larger than the route takes: 2 MiB for a batch of charges, "
    "64 KiB for any other.",
    429: "The API key's rate limit is used up for this minute; see `Retry-After`.",
}
RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (
        ("x-ratelimit-limit", "Requests this key may make per minute (when it is rate limited)."),
        ("x-ratelimit-remaining", "Requests left in the current minute."),
    )
}
REQUEST_ID = {
    "x-request-id": {
        "description": "The request's id in propbridge's logs (the client's own, if it sent "
        "one of at most 100 characters).",
        "schema": {"type": "string"},
        EXTENSION: True,
    }
}
REPLAYED = {
    "idempotent-replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
        EXTENSION: True,
    }
}


def error_response(status: int) -> dict[str, Any]:
    """The OpenAPI response object of one error status."""
    response: dict[str, Any] = {
        "description": ERROR_MEANINGS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds until the limit resets.",
                "schema": {"type": "integer"},
            }
        }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}}
        }
    return response


def declared_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these statuses besides the common ones."""
    return {status: error_response(status) for status in statuses}


def answers(
    model: type[BaseModel], *errors: int, extension: bool = False, **extra: Any
) -> dict[str, Any]:
    """Route arguments documenting what it answers: `model` with a 200, the error statuses only
    it can return, and (`extension`) that the route is ours. FastAPI does not validate the
    answer against `model` (the route's own presenter builds it)."""
    openapi_extra = ours(extra) if extension else (extra or None)
    return {
        "response_model": None,
        "responses": {200: {"model": model}, **declared_errors(*errors)},
        "openapi_extra": openapi_extra,
    }


def model_components(model: type[BaseModel]) -> dict[str, Any]:
    """A model's schema and those it refers to, as `components.schemas` entries."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), model.__name__: schema}


def body_read_by_hand(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself (FastAPI cannot see it)."""
    return {
        "requestBody": {"required": required, "content": json_content(model)},
        COMPONENTS_KEY: model_components(model),
    }


def ours(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """`openapi_extra` marking a route as an extension of ours."""
    return {**(extra or {}), EXTENSION: True}


def envelope_schemas(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Components for a record, its list page and its by-ID answer (one record in `results`)."""
    meta = {"$ref": "#/components/schemas/ListMeta"}
    item = {"$ref": f"#/components/schemas/{name}"}
    return {
        name: record,
        f"{name}List": {
            "type": "object",
            "properties": {"meta": meta, "results": {"type": "array", "items": item}},
            "required": ["meta", "results"],
            "additionalProperties": False,
        },
        f"{name}ById": {
            "type": "object",
            "properties": {"meta": meta, "results": item},
            "required": ["meta", "results"],
            "additionalProperties": False,
        },
    }


def ok_with(component: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` whose 200 is a schema of `components` (added by the route's extras)."""
    return {200: {"content": json_content({"$ref": f"#/components/schemas/{component}"})}}


def json_content(schema: dict[str, Any] | type[BaseModel]) -> dict[str, Any]:
    """A JSON content object; a model becomes a reference to its component."""
    if isinstance(schema, type):
        schema = {"$ref": f"#/components/schemas/{schema.__name__}"}
    return {"application/json": {"schema": schema}}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send a POST again with the same key and get the first answer again (for "
    "48 hours); the same key with another body or path is a 409. An empty key is no key.",
    "schema": {"type": "string", "maxLength": 255},
}


def _finish_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    public = path.startswith("/v1/")
    statuses = [400]
    if public:
        statuses += [401, 403, 429]
    if "{" in path:
        statuses.append(404)
    if method == "post":
        statuses.append(409)
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == IDEMPOTENCY_KEY["name"] for p in parameters):
            parameters.append(IDEMPOTENCY_KEY)
    if method in BODY_METHODS:
        statuses += [408, 413]
    for status in statuses:
        responses.setdefault(str(status), error_response(status))
    for code, response in responses.items():
        headers = response.setdefault("headers", {})
        headers.update(REQUEST_ID)
        if public:
            headers.update(RATE_HEADERS)
        if method == "post" and code == "200":
            headers.update(REPLAYED)
    if not public:
        operation["security"] = []
    if operation.get(EXTENSION):
        tags = operation.setdefault("tags", [])
        if EXTENSION_TAG not in tags:
            tags.append(EXTENSION_TAG)
    operation["responses"] = dict(sorted(responses.items()))


def methods_at(app: FastAPI, path: str) -> set[str]:
    """The methods the app's documented operations take at a concrete path."""
    templates: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        app.state, "path_templates", None
    )
    if templates is None:
        templates = [
            (
                re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"),
                {method.upper() for method in operations},
            )
            for template, operations in build_openapi(app)["paths"].items()
        ]
        app.state.path_templates = templates
    found: set[str] = set()
    for pattern, methods in templates:
        if pattern.match(path):
            found |= methods
    if "GET" in found:
        found.add("HEAD")  # every GET route takes HEAD (see the request-context middleware)
    return found


# Body fields that name synced models: the schemas cannot know the registry (it is composed at
# the root), so the document lists its names here.
MODEL_FIELDS = (
    ("WebhookCreate", "model"),
    ("WebhookUpdate", "model"),
    ("ManualSyncRequest", "models_to_sync"),
)


def _name_synced_models(schemas: dict[str, Any], names: Sequence[str]) -> None:
    """Put the registry's model names as the enum of every body field that names models."""
    for component, field in MODEL_FIELDS:
        pending = [schemas[component]["properties"][field]]
        while pending:
            schema = pending.pop()
            if schema.get("type") == "string":
                schema["enum"] = list(names)
            pending.extend(schema.get("anyOf", []))
            if "items" in schema:
                pending.append(schema["items"])


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The finished document of an app (cached on it, as FastAPI does)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        # Relative: the document describes whichever server it was downloaded from.
        servers=[{"url": "/", "description": "The server this document came from."}],
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
    )
    components = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for model in (ErrorResponse, ListMeta):
        schemas.update(model_components(model))
    components["securitySchemes"] = {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made with `propbridge api-keys create`.",
        }
    }
    document["security"] = [{"bearerAuth": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            schemas.update(operation.pop(COMPONENTS_KEY, {}))
            _finish_operation(method, path, operation)
    _name_synced_models(schemas, app.state.runtime.synced_models.names)
    document["tags"] = [
        *(document.get("tags") or []),
        {
            "name": EXTENSION_TAG,
            "description": f"Operations propbridge adds to Propexo's API (each marked "
            f"`{EXTENSION}`); fields and parameters of ours carry the same mark.",
        },
    ]
    components["schemas"] = dict(sorted(schemas.items()))
    app.openapi_schema = document
    return document
