"""The Partner Transactions page (Accounting › Receivables › Partner Transactions), where a
person plays the property manager: pending files with Approve and Reject, and what was decided.

HTML and form handling only; the decisions are `control.decide`.
"""

from __future__ import annotations

import contextlib
import html
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from propbridge.sandbox.resman import partner_transactions as partner
from propbridge.sandbox.resman.control import decide
from propbridge.sandbox.resman.state import same_origin, sandbox_of

router = APIRouter(prefix="/partner-transactions")


# The page may not be framed (no clickjacking of its buttons).
NO_FRAMING = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}


@router.get("", response_class=HTMLResponse)
def partner_transactions_page(request: Request) -> HTMLResponse:
    """Pending files, and the latest posted and rejected transactions (only on an address or
    localhost: the page carries the form token)."""
    same_origin(request)
    sandbox = sandbox_of(request)
    store = sandbox.store
    page = render_page(
        partner.list_items(store, "pending"),
        partner.list_items(store, "posted")[-20:],
        partner.list_items(store, "rejected")[-20:],
        sandbox.csrf_token,
    )
    return HTMLResponse(page, headers=NO_FRAMING)


async def _form(request: Request) -> Any:
    """The posted form, if it carries the page's token and comes from the page's own origin;
    403 otherwise (a cross-site form post)."""
    same_origin(request)
    form = await request.form()
    if not secrets.compare_digest(str(form.get("csrf") or ""), sandbox_of(request).csrf_token):
        raise HTTPException(403, "The form is not from this page (missing or wrong token)")
    return form


@router.post("/{item_id}/{action}")
async def page_decide(item_id: str, action: str, request: Request) -> Response:
    """Approve or reject one transaction from the page, then show the page again."""
    form = await _form(request)
    posting_date = str(form.get("posting_date") or "") or None
    if action in ("approve", "reject"):
        # Whatever happens, the page simply shows the current state again.
        with contextlib.suppress(partner.NotFoundError, partner.NotPendingError, ValueError):
            decide(sandbox_of(request), item_id, action, posting_date)
    return RedirectResponse("/partner-transactions", status_code=303)


@router.post("/files/{file_id}/{action}")
async def page_decide_file(file_id: str, action: str, request: Request) -> Response:
    """Approve or reject a whole file from the page."""
    form = await _form(request)
    posting_date = str(form.get("posting_date") or "") or None
    sandbox = sandbox_of(request)
    if action in ("approve", "reject"):
        with contextlib.suppress(partner.NotFoundError, partner.NotPendingError, ValueError):
            for item_id in partner.file_item_ids(sandbox.store, file_id):
                decide(sandbox, item_id, action, posting_date)
    return RedirectResponse("/partner-transactions", status_code=303)


def _row(item: dict[str, Any], actions: bool, token: str = "") -> str:
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
            f'<input type="hidden" name="csrf" value="{e(token)}">'
            '<input type="date" name="posting_date" aria-label="Posting date">'
            '<button type="submit">Approve</button></form>'
            f'<form method="post" action="/partner-transactions/{e(item["id"])}/reject">'
            f'<input type="hidden" name="csrf" value="{e(token)}">'
            '<button type="submit">Reject</button></form></td>'
        )
    return "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + buttons + "</tr>"


def render_page(
    pending: list[dict[str, Any]],
    posted: list[dict[str, Any]],
    rejected: list[dict[str, Any]],
    token: str,
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
            f'<input type="hidden" name="csrf" value="{e(token)}">'
            '<input type="date" name="posting_date" aria-label="Posting date for the file">'
            '<button type="submit">Approve file</button></form>'
            f'<form method="post" action="/partner-transactions/files/{e(file_id)}/reject">'
            f'<input type="hidden" name="csrf" value="{e(token)}">'
            '<button type="submit">Reject file</button></form>'
            f"<table>{head}<th>Actions</th></tr>"
            + "".join(_row(i, True, token) for i in items)
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
