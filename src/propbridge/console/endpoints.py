"""`/console`: the operator console's pages and forms (HTML; no part of the public API).

Every page authenticates its session's admin key as the API authenticates a bearer token,
and every form carries the session's token and must come from this site. What a page shows
and what a button does is `console.service`; here only requests, forms and templates.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData

from propbridge.api.dependencies import get_runtime
from propbridge.api.errors import ApiError
from propbridge.auth.service import SCOPES, Principal
from propbridge.console import charts, service
from propbridge.console.session import (
    COOKIE,
    PATH,
    SIGN_IN_COOKIE,
    ConsoleSession,
    NotSignedIn,
    Refused,
    begin,
    check_form_token,
    end,
    form_token,
    principal_of,
    same_site,
    seal,
    seal_message,
    signed_in,
    unseal_message,
)
from propbridge.db.base import isoformat_z, utcnow
from propbridge.integrations.models import Integration
from propbridge.integrations.schemas import CADENCE_SECONDS, IntegrationCreate, IntegrationUpdate
from propbridge.webhooks.service import DELIVERY_STATES
from propbridge.writes.presenters import ITEM_STATES
from propbridge.writes.recorder import WriteRecorder
from propbridge.writes.service import OPERATIONS, WRITE_STATUSES, WriteQuery

HERE = Path(__file__).parent
STATIC = HERE / "static"
ASSETS = {path.name: path for path in STATIC.iterdir() if path.is_file()}
FLASH_COOKIE = "pb_console_flash"
# Sent by console.js on its background refreshes.
REFRESH_HEADER = "x-console-refresh"
# The console's pages: nothing from elsewhere, never framed, never cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# What a form token looks like (`secrets.token_urlsafe(32)`).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# ASCII digits only: `int()` would also take other scripts' digits, and `str.isdigit` "²".
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
# The dates the writes filters take.
YEARS = range(1970, 3000)
# Days the writes chart covers when no dates are asked for.
CHART_DAYS = 14

router = APIRouter(prefix=PATH, include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


def _when(value: Any) -> str:
    """An instant as the pages show it (UTC, to the second)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    moment: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


templates.env.filters["when"] = _when
templates.env.filters["dollars"] = _dollars
templates.env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, sort_keys=True)
templates.env.globals["plural"] = _plural
# How each item state looks: taken and found, waiting, overdue, failed.
templates.env.globals["item_badge"] = {
    "POSTED": "ok",
    "ACCEPTED": "busy",
    "PENDING": "busy",
    "UNCONFIRMED": "warn",
    "REJECTED": "bad",
    "OUTCOME_UNKNOWN": "bad",
}


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    csrf: str = "",
) -> HTMLResponse:
    flash = unseal_message(request, request.cookies.get(FLASH_COOKIE, ""))
    # What the navigation offers: API keys and health are for keys limited to no integration.
    unrestricted = request.scope.get("state", {}).get("console_unrestricted", False)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "csrf": csrf,
            "flash": flash,
            "path": request.url.path,
            "unrestricted": unrestricted,
            **context,
        },
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=PATH)
    return response


def _redirect(request: Request, to: str, flash: str | None = None) -> RedirectResponse:
    """303 to `to`; the message for the next page sealed like the session (another service on
    the same host cannot plant one), and none for a background refresh (its page is gone)."""
    response = RedirectResponse(to, status_code=303, headers=SECURITY_HEADERS)
    if flash and not request.headers.get(REFRESH_HEADER):
        response.set_cookie(
            FLASH_COOKIE,
            seal_message(request, flash[:300]),
            path=PATH,
            httponly=True,
            samesite="strict",
            max_age=60,
        )
    return response


def _problem(request: Request, status: int, message: str, csrf: str = "") -> HTMLResponse:
    return _page(request, "problem.html", {"status": status, "message": message}, status, csrf)


def _sign_in_again(request: Request, reason: str | None) -> Response:
    response = _redirect(request, f"{PATH}/sign-in", reason)
    if COOKIE in request.cookies:
        # Only a session this request carried is dropped: a request that came without one (a
        # cross-site post, whose SameSite cookie stayed behind) must not sign anyone out.
        response.delete_cookie(COOKIE, path=PATH)
    return response


Page = Callable[[Request, ConsoleSession, Principal], Awaitable[Response]]


async def _serve(request: Request, page: Page, *, form: bool = False) -> Response:
    """Authenticate the session (and, for a form, its origin and token), then the page; the
    API's refusals (404, 403, 400) become pages saying so."""
    try:
        session, principal = await signed_in(request)
    except NotSignedIn as why:
        return _sign_in_again(request, why.reason)
    request.scope.setdefault("state", {})["console_unrestricted"] = (
        principal.integration_ids is None
    )
    try:
        if form:
            same_site(request)
            check_form_token(session.csrf, (await request.form()).get("csrf"))
        return await page(request, session, principal)
    except Refused as refused:
        return _problem(request, 403, str(refused), session.csrf)
    except ApiError as error:
        return _problem(request, error.status, error.message, session.csrf)


def _text(form: FormData, name: str) -> str:
    """A form field, trimmed ("" when absent); 400 for a NUL character, as the API answers."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if "\x00" in value:
        raise ApiError(400, "invalid_request", f"NUL characters are not accepted ({name})")
    return value.strip()


def _whole_number(raw: str) -> int | None:
    """A whole number written in ASCII digits, or None."""
    return int(raw) if WHOLE_NUMBER.fullmatch(raw) else None


# ---- Signing in ---------------------------------------------------------------------------------


@router.get("")
async def console_home(request: Request) -> Response:
    """The console opens on its integrations."""
    return _redirect(request, f"{PATH}/integrations")


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    """The sign-in form (its token also set as a cookie: the form must send both)."""
    # The token already given stays: another tab's sign-in form must keep working.
    given = request.cookies.get(SIGN_IN_COOKIE, "")
    token = given if TOKEN_SHAPE.fullmatch(given) else form_token()
    response = _page(request, "sign_in.html", {"error": None, "signing_in": True}, csrf=token)
    response.set_cookie(SIGN_IN_COOKIE, token, path=PATH, httponly=True, samesite="strict")
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the admin key; on success a sealed session cookie, else the form again (401)."""
    try:
        same_site(request)
        form = await request.form()
        check_form_token(request.cookies.get(SIGN_IN_COOKIE, ""), form.get("csrf"))
    except Refused as refused:
        return _problem(request, 403, str(refused))
    given = form.get("api_key")
    key = given.strip() if isinstance(given, str) else ""
    principal = await principal_of(request, key) if key else None
    if principal is None or "admin" not in principal.scopes:
        error = (
            "Unknown, expired or revoked API key."
            if principal is None
            else "This API key lacks the admin scope; the console needs an admin key."
        )
        csrf = str(form.get("csrf") or "")
        return _page(request, "sign_in.html", {"error": error, "signing_in": True}, 401, csrf)
    session = await begin(request, key, principal)
    response = _redirect(request, f"{PATH}/integrations")
    response.set_cookie(
        COOKIE,
        seal(request, session),
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=PATH)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session (its row: a copy of the cookie opens nothing afterwards)."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        await end(request, session)
        return _sign_in_again(request, "Signed out.")

    return await _serve(request, page, form=True)


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    """The console's own stylesheet and script (no asset comes from anywhere else)."""
    path = ASSETS.get(name)
    if path is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "max-age=3600"})


# ---- Integrations -------------------------------------------------------------------------------


@router.get("/integrations")
async def integrations_page(request: Request) -> Response:
    """Every integration: status, syncs, last error, records, and what can be done to it."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        views = await service.integration_views(get_runtime(request), principal)
        models = list(get_runtime(request).synced_models.names)
        context = {
            "views": views,
            "models": models,
            "can_create": principal.integration_ids is None,
        }
        return _page(request, "integrations.html", context, csrf=session.csrf)

    return await _serve(request, page)


def _integration_form(form: FormData, creating: bool) -> dict[str, Any]:
    """The fields of the integration form as the API's JSON body would carry them (empty
    fields left out: on an edit, empty credentials keep the stored ones)."""
    body: dict[str, Any] = {}
    if _text(form, "name") or creating:
        body["name"] = _text(form, "name")
    if creating:
        body["integration_vendor"] = _text(form, "integration_vendor") or "RESMAN"
    base_url = _text(form, "base_url")
    if base_url or creating:
        body["base_url"] = base_url or None
    credentials = {
        name: _text(form, name) for name in ("integrationPartnerId", "accountId", "apiKey")
    }
    if creating or any(credentials.values()):
        body["credentials"] = credentials
    body["active"] = form.get("active") == "on"
    frequency = _text(form, "sync_frequency")
    if frequency:
        # Not a whole number: left as text for the schema to refuse, saying why.
        number = _whole_number(frequency)
        body["sync_frequency"] = frequency if number is None else number
    if _text(form, "sync_cadence"):
        body["sync_cadence"] = _text(form, "sync_cadence")
    return body


def _validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
        for problem in error.errors()
    )


async def _integration_form_page(
    request: Request,
    session: ConsoleSession,
    values: dict[str, Any],
    error: str | None,
    **more: Any,
) -> Response:
    context = {
        "values": values,
        "error": error,
        "cadences": list(CADENCE_SECONDS),
        **more,
    }
    return _page(request, "integration_form.html", context, 400 if error else 200, session.csrf)


async def _save_integration(
    request: Request,
    session: ConsoleSession,
    body: dict[str, Any],
    editing: Integration | None,
    save: Callable[[], Awaitable[str]],
) -> Response:
    """Save the form (`save` says what was done); the form again with the reason when the
    body does not validate or the service refuses it."""
    try:
        done = await save()
    except ValidationError as error:
        problem = _validation_message(error)
    except ApiError as error:
        problem = error.message
    else:
        return _redirect(request, f"{PATH}/integrations", done)
    values = {k: v for k, v in body.items() if k != "credentials"}
    return await _integration_form_page(request, session, values, problem, editing=editing)


@router.get("/integrations/new")
async def new_integration_page(request: Request) -> Response:
    """The form to add an integration."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        values = {"active": True, "sync_frequency": 1, "sync_cadence": "DAY"}
        return await _integration_form_page(request, session, values, None, editing=None)

    return await _serve(request, page)


@router.post("/integrations")
async def create_integration(request: Request) -> Response:
    """Add an integration (`POST /v1/admin/integrations/`)."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        body = _integration_form(await request.form(), creating=True)

        async def save() -> str:
            created = await service.create_integration(
                get_runtime(request), principal, IntegrationCreate.model_validate(body)
            )
            return f"Added integration {created.name}."

        return await _save_integration(request, session, body, None, save)

    return await _serve(request, page, form=True)


@router.get("/integrations/{integration_id}/edit")
async def edit_integration_page(integration_id: str, request: Request) -> Response:
    """The form to change an integration (credentials are write-only: never shown)."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        found = await service.integration(get_runtime(request), principal, integration_id)
        values = {
            "name": found.name,
            "base_url": found.base_url,
            "active": found.active,
            "sync_frequency": found.sync_frequency,
            "sync_cadence": found.sync_cadence,
        }
        return await _integration_form_page(request, session, values, None, editing=found)

    return await _serve(request, page)


@router.post("/integrations/{integration_id}")
async def edit_integration(integration_id: str, request: Request) -> Response:
    """Change an integration (`PUT /v1/admin/integrations/{id}/`)."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        runtime = get_runtime(request)
        found = await service.integration(runtime, principal, integration_id)
        body = _integration_form(await request.form(), creating=False)
        if "base_url" not in body and found.base_url is not None:
            body["base_url"] = None  # the field was emptied: production hosts

        async def save() -> str:
            update = IntegrationUpdate.model_validate(body)
            await service.update_integration(runtime, principal, integration_id, update)
            return f"Saved integration {found.name}."

        return await _save_integration(request, session, body, found, save)

    return await _serve(request, page, form=True)


@router.post("/integrations/{integration_id}/{action}")
async def integration_action(integration_id: str, action: str, request: Request) -> Response:
    """Sync now, enable, disable, or check the credentials."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        runtime = get_runtime(request)
        if action == "sync":
            job_id = await service.sync_now(runtime, principal, integration_id)
            return _redirect(request, f"{PATH}/integrations", f"Sync queued (job {job_id}).")
        if action in ("enable", "disable"):
            update = IntegrationUpdate(active=action == "enable")
            found = await service.update_integration(runtime, principal, integration_id, update)
            return _redirect(request, f"{PATH}/integrations", f"{found.name}: {action}d.")
        if action == "check":
            ok, message = await service.check_credentials(runtime, principal, integration_id)
            return _redirect(request, f"{PATH}/integrations", ("✓ " if ok else "✗ ") + message)
        return _problem(request, 404, f"No such action: {action}", session.csrf)

    return await _serve(request, page, form=True)


# ---- Sync runs ----------------------------------------------------------------------------------


def _seconds(run: dict[str, Any]) -> float:
    if not run["finished_at"]:
        return 0.0
    started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(run["finished_at"].replace("Z", "+00:00"))
    return (finished - started).total_seconds()


def _records(run: dict[str, Any]) -> int:
    return sum(sum(counts.values()) for counts in (run["counts"] or {}).values())


@router.get("/sync-runs")
async def sync_runs_page(request: Request, integration_id: str | None = None) -> Response:
    """An integration's syncs: counts per model, duration, errors, and a chart over time."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        runtime = get_runtime(request)
        names = await service.integration_names(runtime, principal)
        chosen = integration_id or next(iter(names), None)
        runs = [] if chosen is None else await service.sync_runs_of(runtime, principal, chosen)
        oldest_first = list(reversed(runs))
        chart = charts.bars_and_line(
            "Sync duration and records over time",
            [run["started_at"] for run in oldest_first],
            [_seconds(run) for run in oldest_first],
            [_records(run) for run in oldest_first],
            "Duration",
            "Records",
        )
        context = {
            "names": names,
            "chosen": chosen,
            "runs": [{**run, "seconds": _seconds(run), "records": _records(run)} for run in runs],
            "chart": chart,
        }
        return _page(request, "sync_runs.html", context, csrf=session.csrf)

    return await _serve(request, page)


# ---- Writes -------------------------------------------------------------------------------------


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or day.year not in YEARS:
        message = f"{name} must be a date (YYYY-MM-DD) from {YEARS[0]} to {YEARS[-1]}"
        raise ApiError(400, "invalid_request", message)
    return day


def _choice(raw: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if raw and raw not in allowed:
        raise ApiError(400, "invalid_request", f"{name} must be one of {', '.join(allowed)}")
    return raw or None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@router.get("/writes")
async def writes_page(
    request: Request,
    status: str | None = None,
    operation: str | None = None,
    integration_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: str | None = None,
    item_status: str | None = None,
) -> Response:
    """Writes, filtered by status, item state, operation, integration and date, with a chart
    per day."""

    async def show(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        runtime = get_runtime(request)
        first, last = _day(since, "since"), _day(until, "until")
        today = utcnow().date()
        number = max(_whole_number(page or "") or 1, 1)
        query = WriteQuery(
            offset=(number - 1) * service.PAGE_SIZE,
            limit=service.PAGE_SIZE,
            status=_choice(status, WRITE_STATUSES, "status"),
            operation=_choice(operation, OPERATIONS, "operation"),
            integration_id=integration_id or None,
            since=_midnight(first) if first else None,
            before=_midnight(last) + timedelta(days=1) if last else None,
            item_status=_choice(item_status, ITEM_STATES, "item_status"),
        )
        rows, total, per_day = await service.write_page(runtime, principal, query)
        chart_last = last or today
        chart_first = first or chart_last - timedelta(days=CHART_DAYS - 1)
        days = [
            (chart_first + timedelta(days=n)).isoformat()
            for n in range(min((chart_last - chart_first).days + 1, 92))
        ]
        series: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
        position = {day: n for n, day in enumerate(days)}
        for day, state, count in per_day:
            if day in position:
                series[state][position[day]] += count
        ordered = {name: series[name] for name in WRITE_STATUSES}
        chart = charts.stacked_bars(
            "Writes per day by status", days, ordered, charts.STATUS_COLOURS
        )
        pages = max((total + service.PAGE_SIZE - 1) // service.PAGE_SIZE, 1)
        kept = {k: v for k, v in request.query_params.items() if k != "page" and v}

        def page_url(to: int) -> str | None:
            return f"?{urlencode({**kept, 'page': to})}" if 1 <= to <= pages else None

        context = {
            "rows": rows,
            "total": total,
            "page": number,
            "pages": pages,
            "first_url": f"?{urlencode(kept)}",
            "newer_url": page_url(min(number - 1, pages)),
            "older_url": page_url(number + 1),
            "chart": chart,
            "names": await service.integration_names(runtime, principal),
            "statuses": WRITE_STATUSES,
            "item_states": ITEM_STATES,
            "operations": OPERATIONS,
            "filters": {
                "status": status or "",
                "item_status": item_status or "",
                "operation": operation or "",
                "integration_id": integration_id or "",
                "since": since or "",
                "until": until or "",
            },
        }
        return _page(request, "writes.html", context, csrf=session.csrf)

    return await _serve(request, show)


@router.get("/writes/{job_id}")
async def write_page(job_id: str, request: Request) -> Response:
    """One write: request, MITS document, the PMS's answer, items, retries."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        detail = await service.write_detail(get_runtime(request), principal, job_id)
        items = detail["items"]
        chain = detail["chain"]
        context = {
            **detail,
            "total_cents": sum(item.amount_in_cents for item in items),
            "created_at": isoformat_z(detail["write"].created_at),
            "latest_in_chain": not chain or chain[-1][0].job_id == job_id,
            "unknown": [i.reference_number for i in items if i.status == "OUTCOME_UNKNOWN"],
        }
        return _page(request, "write.html", context, csrf=session.csrf)

    return await _serve(request, page)


@router.post("/writes/{job_id}/retry")
async def retry_write(job_id: str, request: Request) -> Response:
    """Retry a failed write, exactly as `retry-write` does."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        recorder: WriteRecorder = request.app.state.write_recorder
        checked = (await request.form()).get("outcome_checked") == "on"
        try:
            retry = await service.retry_write(
                get_runtime(request), recorder, principal, job_id, checked
            )
        except ApiError as error:
            if error.code != "outcome_unknown":
                raise
            raise ApiError(
                409,
                error.code,
                "Not retried: ResMan may already hold this write. Look for its references in "
                "ResMan's Partner Transactions; only if they are not there, tick the box on the "
                "write's page and retry.",
            ) from error
        return _redirect(
            request, f"{PATH}/writes/{retry.job_id}", f"Retry queued (job {retry.job_id})."
        )

    return await _serve(request, page, form=True)


# ---- Webhooks -----------------------------------------------------------------------------------


@router.get("/webhooks")
async def webhooks_page(request: Request) -> Response:
    """Webhook endpoints."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        hooks = await service.webhook_list(get_runtime(request), principal)
        return _page(request, "webhooks.html", {"hooks": hooks}, csrf=session.csrf)

    return await _serve(request, page)


@router.get("/webhooks/{webhook_id}")
async def webhook_page(request: Request, webhook_id: str, state: str | None = None) -> Response:
    """A webhook's deliveries with their attempts and latencies."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        hook, found = await service.deliveries(
            get_runtime(request), principal, webhook_id, state or None
        )
        context = {
            "hook": hook,
            "deliveries": found,
            "state": state or "",
            "states": DELIVERY_STATES,
        }
        return _page(request, "webhook.html", context, csrf=session.csrf)

    return await _serve(request, page)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(webhook_id: str, delivery_id: str, request: Request) -> Response:
    """Send a delivery again (same `webhook-id`)."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        await service.redeliver(get_runtime(request), principal, webhook_id, delivery_id)
        return _redirect(request, f"{PATH}/webhooks/{webhook_id}", "Redelivery queued.")

    return await _serve(request, page, form=True)


# ---- API keys -----------------------------------------------------------------------------------


async def _keys_page(
    request: Request,
    session: ConsoleSession,
    principal: Principal,
    created: tuple[Any, str] | None = None,
    error: str | None = None,
) -> Response:
    found = await service.api_keys(get_runtime(request), principal)
    context = {"keys": found, "created": created, "error": error, "scopes": SCOPES}
    return _page(request, "api_keys.html", context, 400 if error else 200, session.csrf)


@router.get("/api-keys")
async def api_keys_page(request: Request) -> Response:
    """Every key: scopes, allow-list, use, expiry, revocation."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        return await _keys_page(request, session, principal)

    return await _serve(request, page)


@router.post("/api-keys")
async def create_api_key(request: Request) -> Response:
    """Make a key; its token is on the page this answers with, once (never in a URL)."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        form = await request.form()
        name = _text(form, "name")
        scopes = [str(scope) for scope in form.getlist("scopes")]
        days = _text(form, "expires_in_days")
        listed = _text(form, "integration_ids")
        allowed = [part.strip() for part in listed.split(",") if part.strip()]
        problem = None
        if not name or len(name) > 200:
            problem = "Give the key a name (at most 200 characters)."
        elif not scopes:
            problem = "Choose at least one scope."
        elif days and not 1 <= (_whole_number(days) or 0) <= 3650:
            problem = "Expiry must be a whole number of days between 1 and 3650."
        elif listed and not allowed:
            # Something was typed: it must not silently become "every integration".
            problem = "Name integrations by id, separated by commas, or leave the field empty."
        if problem is not None:
            return await _keys_page(request, session, principal, error=problem)
        created = await service.create_api_key(
            get_runtime(request),
            principal,
            name,
            scopes,
            allowed or None,
            _whole_number(days),
        )
        return await _keys_page(request, session, principal, created=created)

    return await _serve(request, page, form=True)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(key_id: str, request: Request) -> Response:
    """Revoke a key (revoking the key signed in with ends this session)."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        key = await service.revoke_api_key(get_runtime(request), principal, key_id)
        if key is None:
            return _problem(request, 404, f"API key {key_id} not found", session.csrf)
        request.app.state.principal_cache.forget()
        return _redirect(request, f"{PATH}/api-keys", f"Revoked {key.name} ({key.token_prefix}…).")

    return await _serve(request, page, form=True)


# ---- Health -------------------------------------------------------------------------------------


@router.get("/health")
async def health_page(request: Request) -> Response:
    """Queue depth, oldest queued job, running jobs, workers seen, database and migration."""

    async def page(request: Request, session: ConsoleSession, principal: Principal) -> Response:
        health = await service.health(get_runtime(request), principal)
        kinds = sorted(set(health.queue.queued) | set(health.queue.running))
        waiting = None
        if health.queue.oldest_queued_at is not None:
            waiting = (health.now - health.queue.oldest_queued_at).total_seconds()
        context = {"health": health, "kinds": kinds, "waiting": waiting}
        return _page(request, "health.html", context, csrf=session.csrf)

    return await _serve(request, page)


@router.get("/{unknown:path}")
async def no_such_page(unknown: str, request: Request) -> Response:
    """Any other address under `/console`: a page saying so (last: every route above wins)."""
    return _problem(request, 404, f"There is no console page at /console/{unknown}")
