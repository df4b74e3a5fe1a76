"""The v1 surface (`api.myresman.com`): `POST /{Area}/{Method}` with form fields, answered by the
`<ResMan>` envelope (MITS methods, always XML) or by JSON (other areas, unless XML is asked for).

Form field names are matched without regard to case: integrators' production code sends both
`ApiKey` and `APIKey`, `Xml` and `xml` [OBSERVED]. So are area and method names (an assumption:
ASP.NET routes ignore case). Routing and envelopes only; the rules live in `reads.py` and
`partner_transactions.py`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from propbridge.sandbox.resman import partner_transactions as partner
from propbridge.sandbox.resman import reads
from propbridge.sandbox.resman.state import Sandbox, sandbox_of
from propbridge.sandbox.resman.xml_io import (
    dict_to_xml,
    envelope,
    marketing_document,
    resident_transactions,
)

router = APIRouter()


class V1Error(Exception):
    """A v1 failure, answered as `Status=Error`/`Failed` with an `ErrorDescription`."""

    def __init__(self, description: str, http_status: int = 200) -> None:
        super().__init__(description)
        self.description = description
        self.http_status = http_status


class Fields:
    """A request's form (and query) fields, looked up without regard to case."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = {k.lower(): v for k, v in values.items()}

    def get(self, name: str) -> str:
        return self._values.get(name.lower(), "")


# A method's answer: a JSON payload (a one-key dict) or an XML element under `_xml`.
Handler = Callable[[Sandbox, Fields, str], dict[str, Any]]


def _wants_xml(request: Request) -> bool:
    """Non-MITS methods answer JSON unless XML is asked for: integrators read them as JSON
    without asking (Lucky-dev1085/DWELL-CRM, ushabbir97/movein-cost-sheet) [OBSERVED]."""
    accept = request.headers.get("accept", "").lower()
    return "xml" in accept and "json" not in accept


def _reply(
    request: Request, sandbox: Sandbox, area: str, method: str, payload: dict[str, Any], pid: str
) -> Response:
    account = sandbox.config.account_id
    if area == "mits" or _wants_xml(request):
        inner = payload.pop("_xml", None)
        if inner is None and payload:
            key, value = next(iter(payload.items()))
            inner = dict_to_xml(key, value)
        body = envelope(method, account, pid or None, response=inner)
        return Response(body, media_type="application/xml")
    return JSONResponse(
        {
            **payload,
            "MethodName": method,
            "ErrorDescription": None,
            "Status": "Success",
            "AccountID": int(account),
            **({"PropertyID": pid} if pid else {}),
        }
    )


def _error(
    request: Request, sandbox: Sandbox, area: str, method: str, error: V1Error, pid: str
) -> Response:
    account = sandbox.config.account_id
    if area == "mits" or _wants_xml(request):
        body = envelope(method, account, pid or None, "Error", error.description)
        return Response(body, status_code=error.http_status, media_type="application/xml")
    return JSONResponse(
        {
            "MethodName": method,
            "ErrorDescription": error.description,
            "Status": "Failed",
            "AccountID": int(account),
        },
        status_code=error.http_status,
    )


def _authenticate(sandbox: Sandbox, fields: Fields, needs_property: bool) -> str:
    config = sandbox.config
    partner_ok = secrets.compare_digest(fields.get("IntegrationPartnerID"), config.partner_id)
    key_ok = secrets.compare_digest(fields.get("ApiKey"), config.api_key)
    if not (partner_ok and key_ok):
        raise V1Error("Invalid IntegrationPartnerID or ApiKey")
    if fields.get("AccountID") != config.account_id:
        raise V1Error(f"Access to AccountID {fields.get('AccountID')!r} is not allowed")
    if not needs_property:
        return ""
    property_id = fields.get("PropertyID").strip().lower()
    if not property_id:
        raise V1Error("PropertyID is required")
    if reads.property_row(sandbox.store, property_id) is None:
        raise V1Error(f"Property {property_id} was not found")
    return property_id


def get_properties(sandbox: Sandbox, _fields: Fields, _pid: str) -> dict[str, Any]:
    """`Account/GetProperties`."""
    return {"Properties": reads.v1_properties(sandbox.store)}


def get_units(sandbox: Sandbox, _fields: Fields, pid: str) -> dict[str, Any]:
    """`Property/GetUnits`."""
    return {"Units": reads.v1_units(sandbox.store, pid)}


def get_marketing(sandbox: Sandbox, _fields: Fields, pid: str) -> dict[str, Any]:
    """`MITS/GetMarketing4_0`: floor plans, units and the fee schedule."""
    return {"_xml": marketing_document(reads.marketing(sandbox.store, pid))}


def get_resident_transactions(sandbox: Sandbox, _fields: Fields, pid: str) -> dict[str, Any]:
    """`MITS/GetResidentTransactions2_0`: the whole property's posted ledger."""
    return {
        "_xml": resident_transactions(
            reads.property_row(sandbox.store, pid),
            reads.resident_accounts(sandbox.store, pid),
            reads.unit_status(sandbox.store, pid),
        )
    }


def post_resident_transactions(sandbox: Sandbox, fields: Fields, pid: str) -> dict[str, Any]:
    """`MITS/PostResidentTransactions2_0`: a valid document becomes pending partner
    transactions (approved at once with `--auto-approve`)."""
    xml_text = fields.get("Xml")
    if not xml_text.strip():
        raise V1Error("Xml is required")
    try:
        posted = partner.read_document(sandbox.store, pid, xml_text)
    except partner.PostRejectedError as error:
        raise V1Error(str(error)) from error
    ids = partner.store_pending(sandbox.store, pid, posted, sandbox.now())
    if sandbox.config.auto_approve:
        for item_id in ids:
            partner.approve(sandbox.store, item_id, sandbox.now())
    return {}


# (area, method) in lower case → (needs PropertyID, handler, the method's own spelling)
METHODS: dict[tuple[str, str], tuple[bool, Handler, str]] = {
    ("account", "getproperties"): (False, get_properties, "GetProperties"),
    ("property", "getunits"): (True, get_units, "GetUnits"),
    ("mits", "getmarketing4_0"): (True, get_marketing, "GetMarketing4_0"),
    ("mits", "getresidenttransactions2_0"): (
        True,
        get_resident_transactions,
        "GetResidentTransactions2_0",
    ),
    ("mits", "postresidenttransactions2_0"): (
        True,
        post_resident_transactions,
        "PostResidentTransactions2_0",
    ),
}


@router.post("/{area}/{method}")
async def v1(area: str, method: str, request: Request) -> Response:
    """Every v1 method; an unknown one is a 404 with the error envelope."""
    sandbox = sandbox_of(request)
    form = await request.form()
    values = {k: str(v) for k, v in request.query_params.items()}
    values.update({k: v for k, v in form.items() if isinstance(v, str)})
    fields = Fields(values)
    known = METHODS.get((area.lower(), method.lower()))
    pid = fields.get("PropertyID").strip().lower()
    name = known[2] if known else method
    try:
        if known is None:
            raise V1Error(f"Method {area}/{method} was not found", 404)
        needs_property, handler, _ = known
        pid = _authenticate(sandbox, fields, needs_property) or pid
        payload = handler(sandbox, fields, pid)
    except V1Error as error:
        return _error(request, sandbox, area.lower(), name, error, pid)
    return _reply(request, sandbox, area.lower(), name, payload, pid)
