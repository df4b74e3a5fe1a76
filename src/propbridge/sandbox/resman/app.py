"""The sandbox's HTTP surfaces: v1 (`POST /{Area}/{Method}`), v2 (JSON GETs), control plane, page.

Routing and envelopes only; the rules live in `partner_transactions.py` and `reads.py`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from propbridge.sandbox.resman import partner_transactions as partner
from propbridge.sandbox.resman import reads
from propbridge.sandbox.resman.faults import FaultMiddleware, FaultSettings, FaultState
from propbridge.sandbox.resman.store import SandboxStore
from propbridge.sandbox.resman.xml_io import (
    dict_to_xml,
    envelope,
    marketing_document,
    resident_transactions,
)

V2_LOOKBACK = timedelta(days=364)


@dataclass(frozen=True)
class SandboxConfig:
    """The one partner and account the sandbox knows, and how it behaves."""

    partner_id: str = "1000"
    api_key: str = "0123456789abcdef0123456789abcdef"
    account_id: str = "400"
    auto_approve: bool = False
    faults: FaultSettings = field(default_factory=FaultSettings)
    # The sandbox's "now". A propbridge stack hands over its own clock, so that both (and the
    # seed) live on the same day; alone, the sandbox reads the wall clock.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class V1Error(Exception):
    """A v1 failure, answered as `Status=Error`/`Failed` with an `ErrorDescription`."""

    def __init__(self, description: str, http_status: int = 200) -> None:
        super().__init__(description)
        self.description = description
        self.http_status = http_status


def _wants_json(request: Request) -> bool:
    return "json" in request.headers.get("accept", "")


def create_sandbox_app(store: SandboxStore, config: SandboxConfig) -> FastAPI:
    """The ResMan sandbox as one ASGI app."""
    app = FastAPI(title="ResMan sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.config = config
    faults = FaultState()
    faults.configure(config.faults)
    app.state.faults = faults
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

    # Before the v1 catch-all `POST /{area}/{method}`, which would take this path.
    @app.get("/_sandbox/faults")
    def fault_report() -> dict[str, Any]:
        return faults.report()

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> JSONResponse:
        try:
            data = json.loads(await request.body() or b"{}")
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object of fault settings")
            faults.configure(FaultSettings.from_dict(data))
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(faults.report())

    # ---------------------------------------------------------------- v1
    def v1_reply(
        request: Request, area: str, method: str, payload: dict[str, Any], property_id: str | None
    ) -> Response:
        if area == "MITS" or not _wants_json(request):
            inner = payload.pop("_xml", None)
            if inner is None and payload:
                key, value = next(iter(payload.items()))
                inner = dict_to_xml(key, value)
            body = envelope(method, config.account_id, property_id, response=inner)
            return Response(body, media_type="application/xml")
        return JSONResponse(
            {
                **payload,
                "MethodName": method,
                "ErrorDescription": None,
                "Status": "Success",
                "AccountID": int(config.account_id),
                **({"PropertyID": property_id} if property_id else {}),
            }
        )

    def v1_error(
        request: Request, area: str, method: str, error: V1Error, property_id: str | None
    ) -> Response:
        if area == "MITS" or not _wants_json(request):
            body = envelope(method, config.account_id, property_id, "Error", error.description)
            return Response(body, status_code=error.http_status, media_type="application/xml")
        return JSONResponse(
            {
                "MethodName": method,
                "ErrorDescription": error.description,
                "Status": "Failed",
                "AccountID": config.account_id,
            },
            status_code=error.http_status,
        )

    def v1_authenticate(fields: dict[str, str], needs_property: bool) -> str | None:
        partner_ok = secrets.compare_digest(
            fields.get("IntegrationPartnerID", ""), config.partner_id
        )
        key_ok = secrets.compare_digest(fields.get("ApiKey", ""), config.api_key)
        if not (partner_ok and key_ok):
            raise V1Error("Invalid IntegrationPartnerID or ApiKey")
        if fields.get("AccountID", "") != config.account_id:
            raise V1Error(f"Access to AccountID {fields.get('AccountID', '')!r} is not allowed")
        if not needs_property:
            return None
        property_id = fields.get("PropertyID", "").strip().lower()
        if not property_id:
            raise V1Error("PropertyID is required")
        if reads.property_row(store, property_id) is None:
            raise V1Error(f"Property {property_id} was not found")
        return property_id

    @app.post("/{area}/{method}")
    async def v1(area: str, method: str, request: Request) -> Response:
        form = await request.form()
        fields = {k: str(v) for k, v in request.query_params.items()}
        fields.update({k: v for k, v in form.items() if isinstance(v, str)})
        handler = V1_METHODS.get((area, method))
        property_id = fields.get("PropertyID") or None
        try:
            if handler is None:
                raise V1Error(f"Method {area}/{method} was not found", 404)
            needs_property, run = handler
            property_id = v1_authenticate(fields, needs_property) or property_id
            payload = run(fields, property_id)
        except V1Error as error:
            return v1_error(request, area, method, error, property_id)
        return v1_reply(request, area, method, payload, property_id)

    def get_properties(_fields: dict[str, str], _pid: str | None) -> dict[str, Any]:
        return {
            "Properties": [
                {
                    "PropertyID": p["propertyId"],
                    "Name": p["name"],
                    "StreetAddress": p["streetAddress"],
                    "City": p["city"],
                    "State": p["state"],
                    "Zip": p["zip"],
                    "Phone": p["phone"],
                    "Email": p["email"],
                    "Manager": p["manager"],
                }
                for p in reads.properties(store, config.clock().date())
            ]
        }

    def get_resident_transactions(_fields: dict[str, str], pid: str | None) -> dict[str, Any]:
        assert pid is not None
        prop = reads.property_row(store, pid)
        return {"_xml": resident_transactions(prop, reads.resident_accounts(store, pid))}

    def post_resident_transactions(fields: dict[str, str], pid: str | None) -> dict[str, Any]:
        assert pid is not None
        xml_text = fields.get("Xml") or fields.get("xml") or ""
        if not xml_text.strip():
            raise V1Error("Xml is required")
        try:
            posted = partner.read_document(store, pid, xml_text)
        except partner.PostRejectedError as error:
            raise V1Error(str(error)) from error
        ids = partner.store_pending(store, pid, posted, config.clock())
        if config.auto_approve:
            for item_id in ids:
                partner.approve(store, item_id, config.clock())
        return {}

    def get_marketing(_fields: dict[str, str], pid: str | None) -> dict[str, Any]:
        assert pid is not None
        return {"_xml": marketing_document(*reads.marketing(store, pid))}

    def get_units(_fields: dict[str, str], pid: str | None) -> dict[str, Any]:
        assert pid is not None
        return {"Units": reads.units(store, pid)}

    V1_METHODS = {
        ("Property", "GetUnits"): (True, get_units),
        ("MITS", "GetMarketing4_0"): (True, get_marketing),
        ("Account", "GetProperties"): (False, get_properties),
        ("MITS", "GetResidentTransactions2_0"): (True, get_resident_transactions),
        ("MITS", "PostResidentTransactions2_0"): (True, post_resident_transactions),
    }

    # ---------------------------------------------------------------- v2
    def v2_error(status: int, message: str) -> JSONResponse:
        code = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound"}.get(status, "Error")
        return JSONResponse(
            {"message": message, "code": code, "status": status}, status_code=status
        )

    def v2_authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (
            secrets.compare_digest(user, config.partner_id)
            and secrets.compare_digest(password, config.api_key)
            and request.headers.get("resman-account-id", "") == config.account_id
        )

    def since(request: Request, name: str, required: bool) -> str | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            if required:
                raise V2Problem(f"{name} is required")
            return None
        try:
            moment = (
                parsedate_to_datetime(raw)
                if "," in raw
                else datetime.fromisoformat(raw.replace("Z", "+00:00"))
            )
        except (TypeError, ValueError) as error:
            raise V2Problem(f"{name} is not a valid date: {raw!r}") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        now = config.clock()
        if moment > now + timedelta(minutes=5):
            raise V2Problem(f"{name} must be in the past")
        if moment < now - V2_LOOKBACK - timedelta(minutes=5):
            raise V2Problem(f"{name} cannot be more than 364 days in the past")
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def property_param(request: Request) -> str:
        pid = (request.query_params.get("propertyId") or "").lower()
        if not pid:
            raise V2Problem("propertyId is required")
        if reads.property_row(store, pid) is None:
            raise V2Problem(f"Property {pid} was not found", 404)
        return pid

    @app.middleware("http")
    async def v2_guard(request: Request, call_next: Any) -> Response:
        if request.method == "GET" and request.url.path in V2_PATHS and not v2_authorised(request):
            return v2_error(401, "Unauthorized")
        result: Response = await call_next(request)
        return result

    @app.exception_handler(V2Problem)
    async def on_v2_problem(_request: Request, problem: V2Problem) -> JSONResponse:
        return v2_error(problem.status, str(problem))

    @app.get("/Properties")
    def v2_properties() -> dict[str, Any]:
        return {"properties": reads.properties(store, config.clock().date())}

    @app.get("/TransactionCategories")
    def v2_categories(request: Request) -> dict[str, Any]:
        types = {t.strip() for t in request.query_params.get("types", "").split(",") if t.strip()}
        return {"categories": reads.categories(store, types or None)}

    @app.get("/Leasing/Leases")
    def v2_leases(request: Request) -> dict[str, Any]:
        pid = property_param(request)
        modified = since(request, "modifiedSince", required=True)
        assert modified is not None
        return {"leases": reads.leases(store, pid, modified)}

    @app.get("/Leasing/RecurringCharges")
    def v2_recurring_charges(request: Request) -> dict[str, Any]:
        return {"leases": reads.recurring_charges(store, property_param(request))}

    @app.get("/BillingAccounts")
    def v2_billing_accounts(request: Request) -> dict[str, Any]:
        pid = property_param(request)
        modified = since(request, "modifiedSince", required=True)
        assert modified is not None
        include = request.query_params.get("includeTransactions", "false").lower() == "true"
        return {"billingAccounts": reads.billing_accounts(store, pid, modified, include)}

    @app.get("/Transactions/Ledger")
    def v2_ledger(request: Request) -> dict[str, Any]:
        pid = property_param(request)
        account = request.query_params.get("billingAccountId", "")
        if not account:
            raise V2Problem("billingAccountId is required")
        rows = reads.ledger(store, pid, account, since(request, "postedSince", required=False))
        if rows is None:
            raise V2Problem(f"Billing account {account} was not found", 404)
        return {"transactions": rows}

    V2_PATHS = {
        "/Properties",
        "/TransactionCategories",
        "/Leasing/Leases",
        "/Leasing/RecurringCharges",
        "/BillingAccounts",
        "/Transactions/Ledger",
    }

    # ------------------------------------------------------- control plane
    def control_error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def posting_date_of(request: Request) -> str | None:
        body = await request.body()
        if not body.strip():
            return None
        try:
            data = json.loads(body)
        except json.JSONDecodeError as error:
            raise ValueError("the body must be JSON") from error
        value = data.get("posting_date") if isinstance(data, dict) else None
        if value is not None and not isinstance(value, str):
            raise ValueError("posting_date must be a YYYY-MM-DD string")
        return value

    def decide(item_id: str, action: str, posting_date: str | None) -> dict[str, Any]:
        if action == "approve":
            return partner.approve(store, item_id, config.clock(), posting_date)
        return partner.reject(store, item_id, config.clock())

    @app.get("/_sandbox/info")
    def sandbox_info() -> dict[str, Any]:
        counts = {
            t: store.query_one(f"SELECT COUNT(*) AS n FROM {t}")["n"]  # type: ignore[index]  # noqa: S608
            for t in (
                "properties",
                "units",
                "leases",
                "people",
                "transactions",
                "partner_transactions",
            )
        }
        return {
            "partner_id": config.partner_id,
            "account_id": config.account_id,
            "auto_approve": config.auto_approve,
            "seed_date": store.get_meta("seed_date"),
            "counts": counts,
            "properties": [
                {"property_id": p["propertyId"], "name": p["name"]}
                for p in reads.properties(store, config.clock().date())
            ],
        }

    @app.get("/_sandbox/partner-transactions")
    def list_partner_transactions(request: Request) -> Response:
        status = request.query_params.get("status")
        if status not in (None, "pending", "posted", "rejected"):
            return control_error(400, "status must be pending, posted or rejected")
        items = partner.list_items(store, status, request.query_params.get("file_id"))
        return JSONResponse({"results": items})

    @app.post("/_sandbox/partner-transactions/{item_id}/{action}")
    async def decide_partner_transaction(item_id: str, action: str, request: Request) -> Response:
        if action not in ("approve", "reject"):
            return control_error(404, f"unknown action {action}")
        try:
            return JSONResponse(decide(item_id, action, await posting_date_of(request)))
        except partner.NotFoundError:
            return control_error(404, f"partner transaction {item_id} was not found")
        except partner.NotPendingError as error:
            return control_error(409, str(error))
        except ValueError as error:
            return control_error(400, str(error))

    @app.post("/_sandbox/partner-files/{file_id}/{action}")
    async def decide_partner_file(file_id: str, action: str, request: Request) -> Response:
        if action not in ("approve", "reject"):
            return control_error(404, f"unknown action {action}")
        try:
            posting_date = await posting_date_of(request)
            ids = partner.file_item_ids(store, file_id)
            return JSONResponse({"results": [decide(i, action, posting_date) for i in ids]})
        except partner.NotFoundError:
            return control_error(404, f"partner file {file_id} was not found")
        except ValueError as error:
            return control_error(400, str(error))

    @app.post("/_sandbox/ledger/transactions")
    async def add_ledger_transaction(request: Request) -> Response:
        """Post a transaction straight to a lease's ledger, as staff do in ResMan's own screens."""
        try:
            data = json.loads(await request.body() or b"{}")
            posted = partner.post_to_ledger(
                store,
                str(data["lease_id"]),
                str(data["charge_code"]),
                str(data["amount"]),
                str(data["date"]),
                data.get("description"),
                data.get("reference"),
                config.clock(),
            )
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as error:
            return control_error(
                400,
                f'lease_id, charge_code, amount ("12.34") and date '
                f"(YYYY-MM-DD) are required: {error}",
            )
        except partner.NotFoundError as error:
            return control_error(404, f"{error} was not found")
        return JSONResponse(posted)

    @app.get("/_sandbox/ledger")
    def sandbox_ledger(request: Request) -> dict[str, Any]:
        lease_id = request.query_params.get("lease_id", "").lower()
        rows = store.query(
            "SELECT t.*, c.abbreviation FROM transactions t JOIN categories c "
            "ON c.category_id = t.category_id WHERE t.lease_id = ? ORDER BY t.date",
            (lease_id,),
        )
        return {
            "results": [
                {
                    "transaction_id": r["transaction_id"],
                    "date": r["date"],
                    "type": r["type"],
                    "charge_code": r["abbreviation"],
                    "description": r["description"],
                    "reference": r["reference"],
                    "amount": reads.money(r["amount_cents"]),
                }
                for r in rows
            ]
        }

    # ------------------------------------------------------------- the page
    @app.get("/partner-transactions", response_class=HTMLResponse)
    def partner_transactions_page() -> str:
        return render_page(
            partner.list_items(store, "pending"),
            partner.list_items(store, "posted")[-20:],
            partner.list_items(store, "rejected")[-20:],
        )

    @app.post("/partner-transactions/{item_id}/{action}")
    async def page_decide(item_id: str, action: str, request: Request) -> Response:
        form = await request.form()
        posting_date = str(form.get("posting_date") or "") or None
        if action in ("approve", "reject"):
            # Whatever happens, the page simply shows the current state again.
            with contextlib.suppress(partner.NotFoundError, partner.NotPendingError, ValueError):
                decide(item_id, action, posting_date)
        return RedirectResponse("/partner-transactions", status_code=303)

    @app.post("/partner-transactions/files/{file_id}/{action}")
    async def page_decide_file(file_id: str, action: str, request: Request) -> Response:
        form = await request.form()
        posting_date = str(form.get("posting_date") or "") or None
        if action in ("approve", "reject"):
            try:
                for item_id in partner.file_item_ids(store, file_id):
                    decide(item_id, action, posting_date)
            except (partner.NotFoundError, partner.NotPendingError, ValueError):
                pass
        return RedirectResponse("/partner-transactions", status_code=303)

    return app


class V2Problem(Exception):
    """A v2 request the sandbox refuses, with its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _row(item: dict[str, Any], actions: bool) -> str:
    e = html.escape
    cells = [
        item["kind"],
        item["reference"] or "",
        item["customer_id"],
        item["unit_id"] or "",
        item["charge_code"] or item["payment_type"] or "",
        item["amount"],
        item["transaction_date"],
        item["description"] or "",
        item["comment"] or "",
        item["transaction_id"] or "",
    ]
    buttons = ""
    if actions:
        buttons = (
            f'<td><form method="post" action="/partner-transactions/{e(item["id"])}/approve">'
            '<input type="date" name="posting_date" aria-label="Posting date">'
            '<button type="submit">Approve</button></form>'
            f'<form method="post" action="/partner-transactions/{e(item["id"])}/reject">'
            '<button type="submit">Reject</button></form></td>'
        )
    return "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + buttons + "</tr>"


def render_page(
    pending: list[dict[str, Any]], posted: list[dict[str, Any]], rejected: list[dict[str, Any]]
) -> str:
    """Accounting › Receivables › Partner Transactions, as a plain HTML page."""
    e = html.escape
    head = (
        "<tr><th>Kind</th><th>Reference</th><th>Lease (CustomerID)</th><th>Unit</th>"
        "<th>Code / type</th><th>Amount</th><th>Date</th><th>Description</th><th>Comment</th>"
        "<th>Transaction ID</th>"
    )
    files: dict[str, list[dict[str, Any]]] = {}
    for item in pending:
        files.setdefault(item["file_id"], []).append(item)
    sections = []
    for file_id, items in files.items():
        sections.append(
            f'<section class="file" id="file-{e(file_id)}"><h3>Batch {e(items[0]["batch_id"])}'
            f" <small>property {e(items[0]['property_id'])}</small></h3>"
            f'<form method="post" action="/partner-transactions/files/{e(file_id)}/approve">'
            '<input type="date" name="posting_date" aria-label="Posting date for the file">'
            '<button type="submit">Approve file</button></form>'
            f'<form method="post" action="/partner-transactions/files/{e(file_id)}/reject">'
            '<button type="submit">Reject file</button></form>'
            f"<table>{head}<th>Actions</th></tr>"
            + "".join(_row(i, True) for i in items)
            + "</table></section>"
        )
    body = "".join(sections) or "<p>No pending partner transactions.</p>"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Partner Transactions"
        "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .5em;font-size:.9em}"
        "form{display:inline-block;margin-right:.3em}</style></head><body>"
        "<h1>Accounting › Receivables › Partner Transactions</h1>"
        f"<h2>Unposted files ({len(pending)} transactions)</h2>{body}"
        f"<h2>Recently posted</h2><table>{head}</tr>"
        + "".join(_row(i, False) for i in posted)
        + "</table>"
        f"<h2>Recently rejected</h2><table>{head}</tr>"
        + "".join(_row(i, False) for i in rejected)
        + "</table></body></html>"
    )
