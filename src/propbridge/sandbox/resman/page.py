"""The Partner Transactions page (Accounting › Receivables › Partner Transactions), where a
person plays the property manager: pending files grouped by property and batch, selected and
approved or rejected together, and what was decided lately.

HTML and form handling only; the decisions are `control.decide`. Plain Python and
`html.escape` (no template engine): every value from the store or the request goes through `_e`.
Every answer of the page (the page, its script and style, its redirects, its error pages) carries
`SECURITY_HEADERS`: a content security policy that runs only the page's own script file, and no
framing. A form that cannot be used comes back as HTML (the page with a flash, or a small error
page), never as JSON.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from propbridge.sandbox.resman import partner_transactions as partner
from propbridge.sandbox.resman.control import decide
from propbridge.sandbox.resman.state import Sandbox, same_origin, sandbox_of

PAGE = "/partner-transactions"
router = APIRouter(prefix=PAGE)

# Only the page's own files run or style it (its script is `page.js`, its style `page.css`:
# nothing inline), its forms post only to itself, and it may not be framed (no clickjacking of
# its buttons).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not `no-referrer`: under it Chromium sends `Origin: null` with the page's own form posts,
    # which `same_origin` refuses.
    "Referrer-Policy": "same-origin",
}
# How many fields a posted form may have. propbridge sends at most 1,000 charges in one batch
# (`MAX_BATCH_CHARGES` in `propbridge.writes.schemas`; the sandbox imports nothing of the
# product), and ticking a whole batch with select-all posts one `item_ids` field per row, plus
# the token, the action and the posting date; the batch buttons submit the same form. Starlette's
# default of 1,000 fields would refuse that full batch. Still a bound: the form is read in memory.
MAX_FORM_FIELDS = 2000
OTHER_FIELDS = ("csrf", "action", "posting_date")
MAX_SELECTED = MAX_FORM_FIELDS - len(OTHER_FIELDS)
ACTIONS = ("approve", "reject")
HISTORY_LIMIT = 20
DAY_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# The flash names a fixed message by key and carries numbers and a date only: a link can never
# make the page say words of its own.
ERRORS = {
    "action": "Choose Approve selected or Reject selected: nothing was changed.",
    "none": "Nothing was selected: tick the transactions to approve or reject first.",
    "date": "The posting date must be a day (YYYY-MM-DD): nothing was changed.",
    "many": (
        f"Too many transactions were ticked at once (the page takes up to {MAX_SELECTED:,} "
        "in one go): nothing was changed. Tick fewer, then try again."
    ),
    "form": "The form could not be read: nothing was changed. Try again from this page.",
}


def _e(value: object) -> str:
    """Text made safe for HTML content and attribute values."""
    return html.escape(str(value), quote=True)


@router.get("", response_class=HTMLResponse)
def partner_transactions_page(request: Request) -> Response:
    """Pending files, and the latest posted and rejected transactions (only on an address or
    localhost: the page carries the form token)."""
    refused = _refused(request)
    if refused is not None:
        return refused
    sandbox = sandbox_of(request)
    data = page_data(sandbox, flash_message(request.query_params))
    return HTMLResponse(render_page(data), headers=SECURITY_HEADERS)


@router.get("/page.js")
def page_script() -> Response:
    """The page's few lines of script (select all, a count); the page works without them."""
    return Response(SCRIPT, media_type="text/javascript", headers=SECURITY_HEADERS)


@router.get("/page.css")
def page_style() -> Response:
    """The page's style (a file of its own: the policy allows no inline style)."""
    return Response(STYLE, media_type="text/css", headers=SECURITY_HEADERS)


def _refused(request: Request) -> Response | None:
    """403 as a small HTML page when the request is cross-site or reached us by a DNS name
    (`same_origin`); None when it may go on."""
    try:
        same_origin(request)
    except HTTPException as error:
        return error_page(
            403,
            "Refused",
            f"{error.detail}: nothing was changed. Open the page on its address (an IP address "
            "or localhost) and use its own buttons.",
        )
    return None


FORM_NOT_OURS = (
    "This form is out of date or from elsewhere",
    "Nothing was changed. The page's forms carry a token that the sandbox makes anew each "
    "time it starts, so a page loaded before a restart can no longer post, and a form from "
    "another page never had it. Load the page again, then try again.",
)


async def _form(request: Request) -> FormData | Response:
    """The posted form, if it comes from the page's own origin and carries the page's token.
    Otherwise what to answer: 403 as HTML for a cross-site post or a missing or wrong token; the
    page with a flash for a form that cannot be read (too many fields, broken multipart)."""
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    except (HTTPException, MultiPartException) as error:
        # Starlette's parse errors: its HTTPException (400) in an app, MultiPartException outside.
        reason = str(getattr(error, "detail", None) or getattr(error, "message", ""))
        return _back(error="many" if reason.startswith("Too many fields") else "form")
    # As bytes: `compare_digest` refuses a str with non-ASCII characters (a TypeError, a 500).
    sent = str(form.get("csrf") or "").encode()
    if not secrets.compare_digest(sent, sandbox_of(request).csrf_token.encode()):
        return error_page(403, *FORM_NOT_OURS)
    return form


@router.post("/decide")
async def page_decide_selected(request: Request) -> Response:
    """Approve or reject every selected transaction (`item_ids`), then show the page again."""
    form = await _form(request)
    if isinstance(form, Response):
        return form
    action = str(form.get("action") or "")
    if action not in ACTIONS:
        return _back(error="action")
    item_ids = list(dict.fromkeys(str(value) for value in form.getlist("item_ids") if value))
    if not item_ids:
        return _back(error="none")
    return _decide_all(sandbox_of(request), item_ids, action, form)


@router.post("/{item_id}/{action}")
async def page_decide(item_id: str, action: str, request: Request) -> Response:
    """Approve or reject one transaction from the page, then show the page again."""
    form = await _form(request)
    if isinstance(form, Response):
        return form
    if action not in ACTIONS:
        return _back(error="action")
    return _decide_all(sandbox_of(request), [item_id], action, form)


@router.post("/files/{file_id}/{action}")
async def page_decide_file(file_id: str, action: str, request: Request) -> Response:
    """Approve or reject a whole file from the page."""
    form = await _form(request)
    if isinstance(form, Response):
        return form
    if action not in ACTIONS:
        return _back(error="action")
    sandbox = sandbox_of(request)
    try:
        item_ids = partner.file_item_ids(sandbox.store, file_id)
    except partner.NotFoundError:
        item_ids = []
    return _decide_all(sandbox, item_ids, action, form)


def _decide_all(sandbox: Sandbox, item_ids: list[str], action: str, form: FormData) -> Response:
    """Decide each item; an unknown or already decided one is skipped. Back to the page, with
    what happened in the flash."""
    posting_date = None
    if action == "approve":
        raw = str(form.get("posting_date") or "").strip()
        if raw:
            posting_date = iso_day(raw)
            if posting_date is None:
                return _back(error="date")
    done = skipped = 0
    for item_id in item_ids:
        try:
            decide(sandbox, item_id, action, posting_date)
        except (partner.NotFoundError, partner.NotPendingError, ValueError):
            skipped += 1
        else:
            done += 1
    return _back(done=action, n=done, skipped=skipped, on=posting_date)


def _back(**params: str | int | None) -> RedirectResponse:
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return RedirectResponse(
        f"{PAGE}?{query}" if query else PAGE, status_code=303, headers=SECURITY_HEADERS
    )


def error_page(status: int, title: str, text: str) -> HTMLResponse:
    """A small HTML page saying why nothing was done, with a link back to the page."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · ResMan sandbox</title>"
        f'<link rel="stylesheet" href="{PAGE}/page.css"></head><body>'
        '<header class="topbar"><p class="crumbs">ResMan sandbox · Accounting › Receivables › '
        "<strong>Partner Transactions</strong></p></header>"
        f'<main><section class="card problem" id="problem"><h1>{_e(title)}</h1>'
        f"<p>{_e(text)}</p>"
        f'<p><a href="{PAGE}" id="back">Back to Partner Transactions</a></p></section></main>'
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def iso_day(text: str) -> str | None:
    """`text` if it is a real day written YYYY-MM-DD, else None."""
    if not DAY_PATTERN.match(text):
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def _count(text: str | None) -> int | None:
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 7:
        return None
    return int(text)


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 transaction`, `2 transactions`, `1 property`, `3 properties`."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def dollars(cents: int) -> str:
    """7500 → `$75.00`; 123450 → `$1,234.50`."""
    whole, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}${whole:,}.{rest:02d}"


def flash_message(params: Mapping[str, str]) -> tuple[str, bool] | None:
    """What the last decision did, from the redirect's query (text, is an error)."""
    error = params.get("error")
    if error is not None:
        text = ERRORS.get(error)
        return None if text is None else (text, True)
    action, done, skipped = (
        params.get("done"),
        _count(params.get("n")),
        _count(params.get("skipped")),
    )
    if action not in ACTIONS or done is None:
        return None
    verb = "Approved" if action == "approve" else "Rejected"
    if done == 0:
        text = f"Nothing was {verb.lower()}."
    elif action == "reject":
        text = f"Rejected {plural(done, 'transaction')}."
    else:
        on = iso_day(params.get("on") or "")
        when = (
            f"posted on {on}"
            if on
            else "posted on its transaction date"
            if done == 1
            else "each posted on its own transaction date"
        )
        text = f"Approved {plural(done, 'transaction')}, {when}."
    if skipped:
        were = "was" if skipped == 1 else "were"
        text += f" {plural(skipped, 'transaction')} {were} already decided or unknown: skipped."
    elif done == 0:
        text += " Nothing selected was still pending."
    return text, done == 0


@dataclass(frozen=True)
class PageData:
    """Everything the page shows, read from the store."""

    pending: list[dict[str, Any]]
    posted: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    posted_count: int
    rejected_count: int
    properties: dict[str, str]
    # The holder of each lease, by lease id: MITS posts only the lease (CustomerID), so the
    # lease is all the page knows of who a transaction is for.
    holders: dict[str, str]
    codes: dict[str, str]
    today: date
    token: str
    flash: tuple[str, bool] | None = None


def page_data(sandbox: Sandbox, flash: tuple[str, bool] | None = None) -> PageData:
    """Read what the page shows."""
    store = sandbox.store
    pending = partner.list_items(store, "pending")
    posted = partner.recent_decisions(store, "posted", HISTORY_LIMIT)
    rejected = partner.recent_decisions(store, "rejected", HISTORY_LIMIT)
    return PageData(
        pending=pending,
        posted=posted,
        rejected=rejected,
        posted_count=partner.count_items(store, "posted"),
        rejected_count=partner.count_items(store, "rejected"),
        properties=partner.property_names(store),
        holders=partner.lease_holder_names(
            store, (i["customer_id"] for i in [*pending, *posted, *rejected])
        ),
        codes=partner.charge_code_names(store),
        today=sandbox.now().date(),
        token=sandbox.csrf_token,
        flash=flash,
    )


def _cents(items: Iterable[dict[str, Any]]) -> int:
    return sum(partner.amount_to_cents(item["amount"]) for item in items)


def totals(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """A group's totals by kind, never added together: `("charges", cents)` if it holds any
    charge, then `("payments", cents)` if it holds any payment."""
    found = []
    for kind, name in (("charge", "charges"), ("payment", "payments")):
        of_kind = [item for item in items if item["kind"] == kind]
        if of_kind:
            found.append((name, _cents(of_kind)))
    return found


def _total_hook(kind: str, scope: str) -> str:
    """The figure's test hook: `data-total` on charges, `data-total-payments` on payments."""
    return f'data-total="{scope}"' if kind == "charges" else f'data-total-payments="{scope}"'


def _inline_totals(items: list[dict[str, Any]], scope: str) -> str:
    """`charges <b>$1,545.67</b> · payments <b>$200.00</b>` (only the kinds the group holds)."""
    return " · ".join(
        f'{kind} <b class="num" {_total_hook(kind, scope)}>{dollars(cents)}</b>'
        for kind, cents in totals(items)
    )


def _property(data: PageData, property_id: str) -> str:
    name = data.properties.get(property_id)
    return (
        _e(name) if name else f'<span class="muted">Property</span> <code>{_e(property_id)}</code>'
    )


def _lease(data: PageData, item: dict[str, Any]) -> str:
    """The lease a transaction was posted to, by its holder's name (else its id), and for a
    payment who paid it, when the document said (`PaidBy`)."""
    lease = item["customer_id"]
    name = data.holders.get(lease)
    shown = (
        f'<span class="name" title="Lease {_e(lease)}">{_e(name)}</span>'
        if name
        else f'<span class="muted">Lease</span> <code>{_e(lease)}</code>'
    )
    paid_by = (item.get("paid_by") or "").strip() if item["kind"] == "payment" else ""
    if paid_by:
        shown += f' <div class="muted small paid-by">paid by {_e(paid_by)}</div>'
    return shown


def _code(data: PageData, item: dict[str, Any]) -> str:
    if item["kind"] == "payment":
        return f'Payment <span class="muted">· {_e(item["payment_type"] or "")}</span>'
    code = item["charge_code"] or ""
    name = data.codes.get(code)
    label = f' <span class="muted">{_e(name)}</span>' if name else ""
    return f'<span class="code">{_e(code)}</span>{label}'


def _moment(stamp: str | None) -> str:
    """A stored ISO instant, as `2026-11-25 14:30 UTC`."""
    if not stamp:
        return '<span class="muted">—</span>'
    shown = f"{stamp[:10]} {stamp[11:16]} UTC" if len(stamp) >= 16 else stamp
    return f'<time datetime="{_e(stamp)}">{_e(shown)}</time>'


def _day(day: str | None) -> str:
    if not day:
        return '<span class="muted">—</span>'
    return f'<time datetime="{_e(day)}">{_e(day)}</time>'


def _pending_row(data: PageData, item: dict[str, Any]) -> str:
    item_id, reference = item["id"], item["reference"] or ""
    token = _e(data.token)
    comment = item["comment"]
    description = _e(item["description"] or "") + (
        f'<div class="muted small">{_e(comment)}</div>' if comment else ""
    )
    lease = item["customer_id"]
    holder = data.holders.get(lease)
    label = f"Select {reference or 'transaction'}, " + (
        f"lease of {holder}" if holder else f"lease {lease}"
    )
    return (
        f'<tr data-item-id="{_e(item_id)}" data-reference="{_e(reference)}">'
        f'<td class="check"><input type="checkbox" name="item_ids" value="{_e(item_id)}" '
        f'form="decide-form" aria-label="{_e(label)}"></td>'
        f"<td>{_lease(data, item)}</td>"
        f"<td>{_e(item['unit_id'] or '')}</td>"
        f"<td>{_code(data, item)}</td>"
        f'<td class="num">{dollars(partner.amount_to_cents(item["amount"]))}</td>'
        f"<td>{_day(item['transaction_date'])}</td>"
        f"<td>{description}</td>"
        f"<td><code>{_e(reference)}</code></td>"
        '<td class="row-actions">'
        f'<form method="post" action="{PAGE}/{_e(item_id)}/approve">'
        f'<input type="hidden" name="csrf" value="{token}">'
        f'<button type="submit" class="small" title="Approve now, posted on '
        f'{_e(item["transaction_date"])} (its transaction date)">Approve</button></form>'
        f'<form method="post" action="{PAGE}/{_e(item_id)}/reject">'
        f'<input type="hidden" name="csrf" value="{token}">'
        '<button type="submit" class="small danger" title="Reject now">Reject</button></form>'
        "</td></tr>"
    )


def _batch(data: PageData, file_id: str, items: list[dict[str, Any]]) -> str:
    batch_id = items[0]["batch_id"] or ""
    if batch_id.startswith("unbatched-"):
        title = 'Without a batch ID <span class="muted small">(one file per post)</span>'
        name = "the file without a batch ID"
    else:
        title = f"Batch <code>{_e(batch_id)}</code>"
        name = f"batch {batch_id}"
    fid = _e(file_id)
    return (
        f'<section class="batch" id="file-{fid}" data-file-id="{fid}" '
        f'data-batch-id="{_e(batch_id)}">'
        '<div class="batch-head">'
        f"<h3>{title}</h3>"
        f'<span class="meta">{plural(len(items), "transaction")} · received '
        f"{_moment(items[0]['received_at'])}</span>"
        '<span class="batch-actions">'
        f'<button type="submit" form="decide-form" formaction="{PAGE}/files/{fid}/approve" '
        f'class="small" title="Approve all of {_e(name)} (with the posting date above)">'
        "Approve batch</button>"
        f'<button type="submit" form="decide-form" formaction="{PAGE}/files/{fid}/reject" '
        f'class="small danger" title="Reject all of {_e(name)}">Reject batch</button>'
        "</span></div>"
        '<div class="scroll"><table class="items"><colgroup><col class="c-check">'
        '<col class="c-name"><col class="c-unit"><col class="c-code"><col class="c-amount">'
        '<col class="c-date"><col><col class="c-ref"><col class="c-actions"></colgroup>'
        "<thead><tr>"
        '<th class="check"><input type="checkbox" class="select-all" hidden '
        f'aria-label="Select all of {_e(name)}"></th>'
        '<th>Lease (holder)</th><th>Unit</th><th>Code / type</th><th class="num">Amount</th>'
        "<th>Date</th><th>Description</th><th>Reference</th>"
        '<th class="row-actions"><span class="sr-only">Actions</span></th></tr></thead><tbody>'
        + "".join(_pending_row(data, item) for item in items)
        + "</tbody><tfoot>"
        + "".join(
            f'<tr><td></td><th colspan="3" scope="row">Batch total, {kind}</th>'
            f'<td class="num total" {_total_hook(kind, "batch")}>{dollars(cents)}</td>'
            '<td colspan="4"></td></tr>'
            for kind, cents in totals(items)
        )
        + "</tfoot></table></div></section>"
    )


def _pending(data: PageData) -> str:
    by_property: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for item in data.pending:
        by_property.setdefault(item["property_id"], {}).setdefault(item["file_id"], []).append(item)
    if not by_property:
        return (
            '<section class="card"><p class="empty">No transactions waiting for approval yet. '
            "What partners post appears here.</p></section>"
        )
    ordered = sorted(
        by_property.items(),
        key=lambda pair: (data.properties.get(pair[0], pair[0]).casefold(), pair[0]),
    )
    cards = []
    for property_id, files in ordered:
        items = [item for batch in files.values() for item in batch]
        cards.append(
            f'<section class="card property" data-property-id="{_e(property_id)}">'
            f'<header class="card-head"><h2>{_property(data, property_id)}</h2>'
            f'<p class="meta">{plural(len(files), "file")} · {plural(len(items), "transaction")}'
            f" · {_inline_totals(items, 'property')}</p>"
            "</header>"
            + "".join(_batch(data, file_id, batch) for file_id, batch in files.items())
            + "</section>"
        )
    return "".join(cards)


def _summary(data: PageData) -> str:
    if not data.pending:
        return '<p class="summary" id="summary">Nothing is waiting for approval.</p>'
    files = {item["file_id"] for item in data.pending}
    properties = {item["property_id"] for item in data.pending}
    return (
        '<p class="summary" id="summary">Waiting for approval: '
        f"<b>{plural(len(data.pending), 'transaction')}</b> in {plural(len(files), 'file')} at "
        f"{plural(len(properties), 'property', 'properties')} · "
        f"{_inline_totals(data.pending, 'overall')}</p>"
    )


def default_posting_note(pending: list[dict[str, Any]]) -> str:
    """What an empty posting date means (`control.decide` → `partner.approve`: each transaction
    is posted on its own TransactionDate), with the days that would be used."""
    days = sorted({item["transaction_date"] for item in pending})
    if len(days) == 1:
        return f"Leave empty to post on {days[0]} (the transaction date of every pending one)."
    if days:
        return (
            "Leave empty to post each on its own transaction date "
            f"({days[0]} to {days[-1]}, the Date column)."
        )
    return "Leave empty to post each on its own transaction date."


def _action_bar(data: PageData) -> str:
    off = "" if data.pending else " disabled"
    return (
        f'<form id="decide-form" class="actionbar" method="post" action="{PAGE}/decide">'
        f'<input type="hidden" name="csrf" value="{_e(data.token)}">'
        # The form's default button, which Enter in the date field presses: it decides nothing
        # (the flash asks for a button). Disabled, Chromium would skip it for a date field's
        # Enter and press Approve selected.
        '<button type="submit" name="action" value="" class="enter-guard" hidden '
        'aria-hidden="true" tabindex="-1"></button>'
        '<span id="selected-count" class="count" hidden aria-live="polite">0 selected</span>'
        '<span class="date-field"><label for="posting-date">Posting date</label> '
        '<input type="date" name="posting_date" id="posting-date" '
        'aria-describedby="posting-date-help"></span>'
        f'<span class="hint" id="posting-date-help">{_e(default_posting_note(data.pending))} '
        "It applies to the selection and to batch buttons; a row’s own Approve uses its "
        "transaction date.</span>"
        '<span class="buttons">'
        f'<button type="submit" name="action" value="approve" class="primary"{off}>'
        "Approve selected</button>"
        f'<button type="submit" name="action" value="reject" class="danger"{off}>'
        "Reject selected</button></span></form>"
    )


def _history(data: PageData, status: str) -> str:
    posted = status == "posted"
    items, total = (
        (data.posted, data.posted_count) if posted else (data.rejected, data.rejected_count)
    )
    title = "Recently posted" if posted else "Recently rejected"
    meta = (
        f"latest {len(items)} of {total:,}" if total > len(items) else plural(total, "transaction")
    )
    if not items:
        body = f'<p class="empty">No {status} transactions yet.</p>'
    else:
        head = (
            "<th>Property</th><th>Lease (holder)</th><th>Code / type</th>"
            '<th class="num">Amount</th>'
            + (
                "<th>Posted on</th><th>Approved</th><th>Reference</th><th>Transaction ID</th>"
                if posted
                else "<th>Date</th><th>Rejected</th><th>Reference</th>"
            )
        )
        rows = []
        for item in items:
            reference = item["reference"] or ""
            cells = (
                f"<td>{_property(data, item['property_id'])}</td>"
                f"<td>{_lease(data, item)}</td><td>{_code(data, item)}</td>"
                f'<td class="num">{dollars(partner.amount_to_cents(item["amount"]))}</td>'
            )
            if posted:
                cells += (
                    f"<td>{_day(item['posting_date'])}</td><td>{_moment(item['decided_at'])}</td>"
                    f"<td><code>{_e(reference)}</code></td>"
                    f'<td><code class="id">{_e(item["transaction_id"] or "")}</code></td>'
                )
            else:
                cells += (
                    f"<td>{_day(item['transaction_date'])}</td>"
                    f"<td>{_moment(item['decided_at'])}</td><td><code>{_e(reference)}</code></td>"
                )
            rows.append(
                f'<tr data-history="{status}" data-reference="{_e(reference)}">{cells}</tr>'
            )
        body = (
            f'<div class="scroll"><table class="history"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
    return (
        f'<section class="card" id="{status}"><header class="card-head"><h2>{title}</h2>'
        f'<p class="meta">{meta}</p></header>{body}</section>'
    )


def render_page(data: PageData) -> str:
    """Accounting › Receivables › Partner Transactions, as one HTML page (its style and script
    are files of their own, `page.css` and `page.js`: the policy allows nothing inline)."""
    flash = ""
    if data.flash is not None:
        text, is_error = data.flash
        kind = "error" if is_error else "ok"
        flash = f'<p role="status" id="flash" class="flash {kind}">{_e(text)}</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Partner Transactions · ResMan sandbox</title>"
        f'<link rel="stylesheet" href="{PAGE}/page.css">'
        f'<script src="{PAGE}/page.js" defer></script></head><body>'
        '<header class="topbar"><p class="crumbs">ResMan sandbox · Accounting › Receivables › '
        "<strong>Partner Transactions</strong></p>"
        f'<p class="today">Today in the sandbox: {_day(data.today.isoformat())}</p></header>'
        f"{_action_bar(data)}<main>{flash}{_summary(data)}{_pending(data)}"
        f'<h2 class="section">History</h2>{_history(data, "posted")}'
        f"{_history(data, 'rejected')}</main></body></html>"
    )


STYLE = """
:root{--ink:#1d2433;--muted:#667085;--line:#e4e7ec;--bg:#f4f6f9;--card:#fff;--brand:#1f3b63;
--ok:#13795b;--bad:#b42318;--accent:#2e6bd8}
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.topbar{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5em;
background:var(--brand);color:#fff;padding:.7em 1.5em}
.topbar p{margin:0}.crumbs{font-size:1.05em}.today{opacity:.85;font-size:.9em}
.actionbar{position:sticky;top:0;z-index:10;display:flex;flex-wrap:wrap;align-items:center;
gap:.6em 1.2em;background:#fff;border-bottom:1px solid var(--line);
box-shadow:0 2px 6px rgba(16,24,40,.08);padding:.6em 1.5em}
.actionbar .hint{color:var(--muted);font-size:.85em;flex:1 1 22em}
.actionbar .buttons{display:flex;gap:.5em}.date-field label{font-weight:600}
.count{font-weight:600;color:var(--accent)}
main{max-width:1200px;margin:0 auto;padding:1em 1.5em 3em}
.flash{padding:.6em 1em;border-radius:6px;border:1px solid;margin:.5em 0 1em}
.flash.ok{background:#ecfdf3;border-color:#abefc6;color:#085d3a}
.flash.error{background:#fef3f2;border-color:#fecdca;color:#912018}
.summary{margin:.5em 0 1em;color:var(--muted)}.summary b{color:var(--ink)}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;
box-shadow:0 1px 2px rgba(16,24,40,.05);margin:0 0 1.2em;overflow:hidden}
.card-head{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;
gap:.3em 1em;padding:.8em 1.1em;border-bottom:1px solid var(--line)}
.card-head h2{margin:0;font-size:1.15em}.meta{margin:0;color:var(--muted);font-size:.9em}
.batch+.batch{border-top:1px solid var(--line)}
.batch-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:.3em 1em;
padding:.7em 1.1em .2em}
.batch-head h3{margin:0;font-size:1em}.batch-actions{margin-left:auto;display:flex;gap:.4em}
h2.section{font-size:1.1em;margin:2em 0 .6em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{padding:.45em .7em;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
thead th{color:var(--muted);font-weight:600;font-size:.85em;white-space:nowrap;
background:#fafbfc}
tbody tr:hover{background:#f8faff}tbody tr:has(input:checked){background:#eef4ff}
tfoot th,tfoot td{border-bottom:0;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.items{table-layout:fixed;min-width:78em}.c-check{width:2.6em}.c-name{width:11em}
.c-unit{width:5.5em}.c-code{width:10em}.c-amount{width:8.5em}.c-date{width:7.5em}
.c-ref{width:9em}.c-actions{width:10.5em}td{overflow-wrap:anywhere}
.row-actions{white-space:nowrap;text-align:right}.row-actions form{display:inline}
.muted{color:var(--muted)}.small{font-size:.85em}
code{font:.88em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code.id{font-size:.78em;color:var(--muted)}
.problem{max-width:44em;margin:2em auto;padding:1.2em 1.5em}
.problem h1{margin:0 0 .5em;font-size:1.2em}
.code{font-weight:600}.empty{margin:0;padding:1em 1.1em;color:var(--muted)}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
button{font:inherit;border:1px solid var(--line);background:#fff;color:var(--ink);
border-radius:6px;padding:.4em .9em;cursor:pointer}
button:hover{border-color:#98a2b3}button:disabled{opacity:.5;cursor:default}
button.small{padding:.15em .55em;font-size:.85em}
button.primary{background:var(--ok);border-color:var(--ok);color:#fff}
button.danger{color:var(--bad);border-color:#fda29b}
button.primary.danger{background:var(--bad);color:#fff}
input[type=date]{font:inherit;padding:.3em .4em;border:1px solid #d0d5dd;border-radius:6px}
input[type=checkbox]{width:1.05em;height:1.05em}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
"""

SCRIPT = """\
"use strict";
// Select all of a batch, and count the selection; without this script the boxes still work.
(function () {
  const count = document.getElementById("selected-count");
  const boxes = (root) => Array.from(root.querySelectorAll('input[name="item_ids"]'));
  function refresh() {
    for (const all of document.querySelectorAll("input.select-all")) {
      const items = boxes(all.closest(".batch"));
      const ticked = items.filter((box) => box.checked).length;
      all.checked = items.length > 0 && ticked === items.length;
      all.indeterminate = ticked > 0 && ticked < items.length;
    }
    if (count) {
      count.textContent = boxes(document).filter((box) => box.checked).length + " selected";
    }
  }
  for (const all of document.querySelectorAll("input.select-all")) {
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const box of boxes(all.closest(".batch"))) box.checked = all.checked;
      refresh();
    });
  }
  document.getElementById("posting-date")?.addEventListener("keydown", (event) => {
    if (event.key === "Enter") event.preventDefault();
  });
  document.addEventListener("change", (event) => {
    if (event.target.name === "item_ids") refresh();
  });
  if (count) count.hidden = false;
  refresh();
})();
"""
