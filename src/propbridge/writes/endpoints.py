"""The write routes: ResMan's charge, payment and batch, the generic charge and payment, write
status, retry and logs.

Thin: parse, call the service (resolution on a read connection; for single charges and payments,
in the recorder's transaction with the others that arrived with them), hand the result to the
recorder, shape the answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from propbridge.api.dependencies import (
    DirectRoute,
    get_runtime,
    read_session,
    require_scope,
)
from propbridge.api.errors import MAX_ISSUES, bad_request, issue
from propbridge.api.listing import int_param
from propbridge.api.openapi import answers, body_read_by_hand
from propbridge.api.parameters import MAX_OFFSET, choice, documented, flag, paging, text
from propbridge.api.records import bool_param
from propbridge.api.request_bodies import NOT_JSON, json_object_body, sized_work
from propbridge.auth.service import Principal
from propbridge.writes import service
from propbridge.writes.presenters import ITEM_STATES
from propbridge.writes.recorder import Entry, Unresolved, WriteRecorder
from propbridge.writes.rules import AcceptedWrite
from propbridge.writes.schemas import (
    BatchAccepted,
    ChargeAccepted,
    GenericChargeAccepted,
    GenericPaymentAccepted,
    PaymentAccepted,
    ResidentChargeBatchCreate,
    ResidentChargeCreate,
    ResidentPaymentCreate,
    Retried,
    WriteLogPage,
    WriteStatus,
)
from propbridge.writes.service import BatchResolver, Resolver

router = APIRouter(tags=["billing-and-payments"])
writer = require_scope("write")
# Write status and retries answer keys with either scope.
write_or_admin = require_scope("write", "admin")
IGNORE_UNKNOWN = flag(
    "ignore_unknown_fields",
    "Drop body fields the integration's PMS does not take instead of answering 400.",
)
LOG_LIMIT = 100
LOG_PARAMS = (
    *(param for param in paging((), max_limit=LOG_LIMIT) if param.name != "order-by"),
    text("integration_id", "Only writes to this integration."),
    choice("time_range", tuple(service.TIME_RANGES), "Only writes made within this span."),
    choice("status", service.LOG_STATUSES, "Only writes that ended so."),
    choice("write_category", tuple(service.CATEGORIES), "Only writes of this kind."),
    choice(
        "item_status",
        ITEM_STATES,
        "Only writes with an item in this state (ours): ACCEPTED waits for approval, POSTED "
        "was found in the ledger, UNCONFIRMED was not found for too long after it was taken.",
        extension=True,
    ),
)


def generic(model: type[BaseModel]) -> dict[str, Any]:
    """The documentation of a vendor-agnostic write: its body is the vendor's (ResMan's)."""
    return {**body_read_by_hand(model), **documented((IGNORE_UNKNOWN,))}


async def _record(request: Request, entry: Entry) -> AcceptedWrite:
    """Commit the write and its job (group commit), then wake the worker."""
    recorder: WriteRecorder = request.app.state.write_recorder
    accepted = await recorder.record(entry)
    get_runtime(request).notify_job_enqueued()
    return accepted


Body = TypeVar("Body", bound=BaseModel)
# FastAPI's reason when a body cannot be read at all (not UTF-8, say).
UNREADABLE = "There was an error parsing the body"


def _is_json(content_type: str) -> bool:
    """Whether FastAPI parses a body of this type as JSON: `application/json` or
    `application/*+json`, the type read as the `email` package reads it (anything but one
    `/` before the parameters is `text/plain`)."""
    kind = content_type.partition(";")[0].strip().lower()
    if kind.count("/") != 1:
        return False
    main, sub = kind.split("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def _body(request: Request, model: type[Body]) -> Body:
    """The request's JSON body validated against `model`, with the errors FastAPI gives for a
    body parameter: the same parser (the standard library's, so `json_invalid` names the same
    position), no parsing without a JSON content type, a missing body `missing`, and the
    model's own errors under `body` (the first `MAX_ISSUES`). They are raised once the caller
    is authenticated, as the generic routes raise theirs. A large body (a batch) is parsed and
    validated off the event loop."""
    try:
        raw = await request.body()
    except Exception:
        raise HTTPException(status_code=400, detail=UNREADABLE) from None
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    as_json = _is_json(request.headers.get("content-type") or "text/plain")
    # The document the request context's checks parsed (the same parser): not parsed again.
    parsed = request.scope.get("state", {}).get("json_body", NOT_JSON)
    return await sized_work(len(raw), _validated, raw, as_json, parsed, model)


def _validated(raw: bytes, as_json: bool, parsed: Any, model: type[Body]) -> Body:
    """`_body`'s parse and validation, in one step that may run in another thread."""
    try:
        value: Any = raw
        if as_json:
            value = parsed if parsed is not NOT_JSON else json.loads(raw)
    except json.JSONDecodeError as error:
        problem = {"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error"}
        raise RequestValidationError(
            [{**problem, "input": {}, "ctx": {"error": error.msg}}]
        ) from None
    except Exception:
        raise HTTPException(status_code=400, detail=UNREADABLE) from None
    try:
        return model.model_validate(value, from_attributes=True)
    except ValidationError as invalid:
        problems = islice(invalid.errors(include_url=False), MAX_ISSUES)
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in problems]
        ) from None


async def _single_write(
    request: Request, resolver: BatchResolver, principal: Principal, body: Any
) -> Response:
    """A single charge or payment: resolved and recorded in one group commit with the others
    that arrive with it, answered with its job (encoded by orjson: the same compact JSON as
    `JSONResponse`, for less than the standard library's encoder costs)."""
    accepted = await _record(request, Unresolved(resolver, principal, body))
    answer = {"meta": {"job_id": accepted.job_id}, "result": accepted.body}
    return Response(orjson.dumps(answer), media_type="application/json")


async def _vendor_write(
    request: Request, resolve: Resolver, principal: Principal, body: Any
) -> JSONResponse:
    """Resolve a vendor route's write on a read connection, record it, answer with its job."""
    async with get_runtime(request).database.read_connection() as connection:
        pending = await resolve(connection, principal, body)
    accepted = await _record(request, pending)
    # A ready response: FastAPI then skips re-validating and re-encoding a dict it cannot type.
    return JSONResponse({"meta": {"job_id": accepted.job_id}, "result": accepted.body})


def _add_single_write_route(
    path: str, name: str, description: str, schema: type[Body], resolver: BatchResolver, answer: Any
) -> None:
    """A single charge or payment route. They are the busiest routes: they skip FastAPI's
    dependency solver (`DirectRoute`), which costs more per request than resolving and
    recording the write, and so read their bodies by hand (`_body`), documented as FastAPI
    would document a body parameter."""

    async def endpoint(request: Request, principal: Principal = Depends(writer)) -> Response:
        return await _single_write(request, resolver, principal, await _body(request, schema))

    router.add_api_route(
        path,
        endpoint,
        name=name,
        description=description,
        methods=["POST"],
        route_class_override=DirectRoute,
        **answers(answer, 405, **body_read_by_hand(schema)),
    )


_add_single_write_route(
    "/v1/resident-charges/resman/",
    "create_resident_charge_resman",
    "Accept a charge for ResMan; answered once the request and its job are committed.",
    ResidentChargeCreate,
    service.RESIDENT_CHARGE,
    ChargeAccepted,
)
_add_single_write_route(
    "/v1/resident-payments/resman/",
    "create_resident_payment_resman",
    "Accept a payment for ResMan (`payment_type` becomes the MITS `Payment Type`).",
    ResidentPaymentCreate,
    service.RESIDENT_PAYMENT,
    PaymentAccepted,
)


BATCH_PATH = "/v1/resident-charges/batch/resman/"
# The routes whose bodies may be large (up to `app.MAX_BODY_BYTES`; others take far less).
LARGE_BODY_PATHS = frozenset({BATCH_PATH})


@router.post(
    BATCH_PATH, **answers(BatchAccepted, 405, **body_read_by_hand(ResidentChargeBatchCreate))
)
async def create_resident_charge_batch_resman(
    request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """Accept 1 to 1,000 charges of one property: one job, one MITS document. (Its body, up to
    2 MiB, is read by hand: parsed and validated off the event loop.)"""
    body = await _body(request, ResidentChargeBatchCreate)
    return await _vendor_write(request, service.resolve_charge_batch, principal, body)


async def _generic_write(request: Request, principal: Principal, operation: str) -> JSONResponse:
    body = await json_object_body(request)
    ignore_unknown = bool_param(request, "ignore_unknown_fields") or False
    async with get_runtime(request).database.read_connection() as connection:
        pending = await service.resolve_generic(
            connection, principal, operation, body, ignore_unknown
        )
    accepted = await _record(request, pending)
    return JSONResponse({"job_id": accepted.job_id, "data": accepted.body})


@router.post(
    "/v1/resident-charges/",
    **answers(GenericChargeAccepted, 405, **generic(ResidentChargeCreate)),
)
async def create_resident_charge(
    request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """The vendor-agnostic charge write (`{"job_id", "data"}`)."""
    return await _generic_write(request, principal, "resident_charge")


@router.post(
    "/v1/resident-payments/",
    **answers(GenericPaymentAccepted, 405, **generic(ResidentPaymentCreate)),
)
async def create_resident_payment(
    request: Request, principal: Principal = Depends(writer)
) -> JSONResponse:
    """The vendor-agnostic payment write (`{"job_id", "data"}`)."""
    return await _generic_write(request, principal, "resident_payment")


@router.get("/v1/admin/write-status/{root_job_id}", **answers(WriteStatus))
async def write_status(
    root_job_id: str,
    principal: Principal = Depends(write_or_admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """What became of a write; for keys with the write or admin scope."""
    return await service.write_status(session, principal, root_job_id)


RETRY_PARAMS = (
    flag(
        "outcome_checked",
        "Retry a write whose outcome is unknown: say so once its transactions were looked for "
        "in ResMan's Partner Transactions and are not there (without it, such a retry is a 409, "
        "since ResMan may hold them already).",
        extension=True,
    ),
)


@router.post(
    "/v1/admin/retry-write/{root_job_id}", **answers(Retried, 409, **documented(RETRY_PARAMS))
)
async def retry_write(
    root_job_id: str, request: Request, principal: Principal = Depends(write_or_admin)
) -> dict[str, Any]:
    """Send a failed write again as a new job (400 unless its write_status is FAILURE; 409 when
    an outcome is unknown, unless `outcome_checked`); while a retry of it is pending or
    succeeded, answer with that retry's job instead."""
    recorder: WriteRecorder = request.app.state.write_recorder
    checked = bool_param(request, "outcome_checked") or False
    retry = await recorder.retry(principal, root_job_id, checked)
    get_runtime(request).notify_job_enqueued()
    return {"success": True, "job_id": retry.job_id}


def _choice(request: Request, name: str, allowed: Iterable[str]) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in allowed:
        raise bad_request(
            f"Unknown {name} {value!r}", [issue([name], f"Expected one of {', '.join(allowed)}")]
        )
    return value


@router.get("/v1/admin/logs/writes/", **answers(WriteLogPage, **documented(LOG_PARAMS)))
async def list_write_logs(
    request: Request,
    principal: Principal = Depends(require_scope("admin")),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Finished writes with their parameters and outcome (Propexo's write logs)."""
    query = service.LogQuery(
        limit=int_param(request, "limit", LOG_LIMIT, 1, LOG_LIMIT),
        offset=int_param(request, "offset", 0, 0, MAX_OFFSET),
        integration_id=request.query_params.get("integration_id") or None,
        time_range=_choice(request, "time_range", service.TIME_RANGES),
        status=_choice(request, "status", service.LOG_STATUSES),
        write_category=_choice(request, "write_category", service.CATEGORIES),
        item_status=_choice(request, "item_status", ITEM_STATES),
    )
    return await service.write_logs(session, principal, query)
