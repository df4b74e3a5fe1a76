"""The sandbox's control plane (`/_sandbox/...`, JSON): what tests and people do in ResMan's own
screens: approve or reject partner transactions, enter or reverse ledger transactions, see the
ledger, switch faults.

Not part of ResMan's API, so never subject to the fault switches. Routing and parsing only.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from propbridge.sandbox.resman import partner_transactions as partner
from propbridge.sandbox.resman import reads
from propbridge.sandbox.resman.faults import FaultSettings
from propbridge.sandbox.resman.state import Sandbox, same_origin, sandbox_of

# A browser elsewhere cannot drive it (a cross-site form post would approve a file).
router = APIRouter(prefix="/_sandbox", dependencies=[Depends(same_origin)])
COUNTED_TABLES = (
    "properties",
    "units",
    "leases",
    "people",
    "billing_accounts",
    "transactions",
    "partner_transactions",
)


def control_error(status: int, message: str) -> JSONResponse:
    """The control plane's error body."""
    return JSONResponse({"error": message}, status_code=status)


async def _json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise ValueError("the body must be JSON") from error
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


async def posting_date_of(request: Request) -> str | None:
    """The optional `posting_date` of an approval."""
    value = (await _json_object(request)).get("posting_date")
    if value is not None and not isinstance(value, str):
        raise ValueError("posting_date must be a YYYY-MM-DD string")
    return value


def decide(sandbox: Sandbox, item_id: str, action: str, posting_date: str | None) -> dict[str, Any]:
    """Approve (with an optional posting date) or reject one pending partner transaction."""
    if action == "approve":
        return partner.approve(sandbox.store, item_id, sandbox.now(), posting_date)
    return partner.reject(sandbox.store, item_id, sandbox.now())


@router.get("/faults")
def fault_report(request: Request) -> dict[str, Any]:
    """The fault settings and what they injected."""
    return sandbox_of(request).faults.report()


@router.post("/faults")
async def set_faults(request: Request) -> JSONResponse:
    """Replace the fault settings (`{}` turns everything off)."""
    faults = sandbox_of(request).faults
    try:
        faults.configure(FaultSettings.from_dict(await _json_object(request)))
    except (ValueError, TypeError) as error:
        return control_error(400, str(error))
    return JSONResponse(faults.report())


@router.get("/info")
def sandbox_info(request: Request) -> dict[str, Any]:
    """Who the sandbox is, its seed day, and how much it holds."""
    sandbox = sandbox_of(request)
    store, config = sandbox.store, sandbox.config
    counts = {
        table: store.query_one(f"SELECT COUNT(*) AS n FROM {table}")["n"]  # type: ignore[index]  # noqa: S608
        for table in COUNTED_TABLES
    }
    return {
        "partner_id": config.partner_id,
        "account_id": config.account_id,
        "auto_approve": config.auto_approve,
        "seed_date": store.get_meta("seed_date"),
        "counts": counts,
        "properties": [
            {"property_id": p["propertyId"], "name": p["name"]}
            for p in reads.properties(store, sandbox.now().date())
        ],
    }


@router.get("/partner-transactions")
def list_partner_transactions(request: Request) -> Response:
    """Partner transactions, oldest first, by status and file."""
    status = request.query_params.get("status")
    if status not in (None, "pending", "posted", "rejected"):
        return control_error(400, "status must be pending, posted or rejected")
    items = partner.list_items(
        sandbox_of(request).store, status, request.query_params.get("file_id")
    )
    return JSONResponse({"results": items})


@router.post("/partner-transactions/{item_id}/{action}")
async def decide_partner_transaction(item_id: str, action: str, request: Request) -> Response:
    """Approve or reject one partner transaction."""
    if action not in ("approve", "reject"):
        return control_error(404, f"unknown action {action}")
    try:
        return JSONResponse(
            decide(sandbox_of(request), item_id, action, await posting_date_of(request))
        )
    except partner.NotFoundError:
        return control_error(404, f"partner transaction {item_id} was not found")
    except partner.NotPendingError as error:
        return control_error(409, str(error))
    except ValueError as error:
        return control_error(400, str(error))


@router.post("/partner-files/{file_id}/{action}")
async def decide_partner_file(file_id: str, action: str, request: Request) -> Response:
    """Approve or reject every pending transaction of one partner file."""
    if action not in ("approve", "reject"):
        return control_error(404, f"unknown action {action}")
    sandbox = sandbox_of(request)
    try:
        posting_date = await posting_date_of(request)
        ids = partner.file_item_ids(sandbox.store, file_id)
        return JSONResponse({"results": [decide(sandbox, i, action, posting_date) for i in ids]})
    except partner.NotFoundError:
        return control_error(404, f"partner file {file_id} was not found")
    except ValueError as error:
        return control_error(400, str(error))


@router.post("/ledger/transactions")
async def add_ledger_transaction(request: Request) -> Response:
    """Post a transaction straight to a lease's ledger, as staff do in ResMan's own screens."""
    sandbox = sandbox_of(request)
    try:
        data = await _json_object(request)
        posted = partner.post_to_ledger(
            sandbox.store,
            str(data["lease_id"]),
            str(data["charge_code"]),
            str(data["amount"]),
            str(data["date"]),
            data.get("description"),
            data.get("reference"),
            sandbox.now(),
        )
    except (KeyError, TypeError, ValueError) as error:
        return control_error(
            400,
            f'lease_id, charge_code, amount ("12.34") and date (YYYY-MM-DD) are required: {error}',
        )
    except partner.NotFoundError as error:
        return control_error(404, f"{error} was not found")
    return JSONResponse(posted)


@router.post("/ledger/transactions/{transaction_id}/reverse")
async def reverse_ledger_transaction(transaction_id: str, request: Request) -> Response:
    """Reverse a payment (an NSF): `{"date": "YYYY-MM-DD", "reason": "NSF"}`, both optional."""
    sandbox = sandbox_of(request)
    try:
        data = await _json_object(request)
        day = str(data.get("date") or sandbox.now().date().isoformat())
        reversed_ = partner.reverse_payment(
            sandbox.store, transaction_id, day, str(data.get("reason") or "NSF"), sandbox.now()
        )
    except partner.NotFoundError as error:
        return control_error(404, f"{error} was not found")
    except partner.NotPendingError as error:
        return control_error(409, str(error))
    except ValueError as error:
        return control_error(400, str(error))
    return JSONResponse(reversed_)


@router.get("/ledger")
def sandbox_ledger(request: Request) -> dict[str, Any]:
    """A lease's whole ledger, reversed payments and their reversals included."""
    lease_id = request.query_params.get("lease_id", "").lower()
    return {"results": reads.staff_ledger(sandbox_of(request).store, lease_id)}
