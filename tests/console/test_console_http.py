"""The console over plain HTTP, as a browser's requests reach it: sessions, scopes, forms and
bad input. (The pages in a real browser: tests/browser.)"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from propbridge.jobs.worker import worker_name
from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_seed_path import _charge, _pending
from tests.support import LiveStack


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


class Browser:
    """A cookie jar and the console's form token, signed in with one key."""

    def __init__(self, stack: LiveStack, token: str) -> None:
        self.client = httpx.Client(base_url=stack.base_url, timeout=30)
        form = self.client.get("/console/sign-in")
        signed = self.client.post(
            "/console/sign-in", data={"csrf": _csrf(form.text), "api_key": token}
        )
        assert signed.status_code == 303, signed.text
        self.csrf = _csrf(self.client.get("/console/health").text)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def post(self, path: str, **form: Any) -> httpx.Response:
        return self.client.post(path, data={"csrf": self.csrf, **form})


@pytest.fixture
def admin(stack: LiveStack) -> Iterator[Browser]:
    browser = Browser(stack, stack.new_token(["admin"]))
    yield browser
    browser.client.close()


def test_every_page_answers_with_its_guards(admin: Browser, synced: dict[str, Any]) -> None:
    integration_id = synced["integration"]["id"]
    for path in (
        "/console/integrations",
        "/console/integrations/new",
        f"/console/integrations/{integration_id}/edit",
        f"/console/sync-runs?integration_id={integration_id}",
        "/console/writes",
        "/console/webhooks",
        "/console/api-keys",
        "/console/health",
    ):
        page = admin.client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        # Every asset is the console's own.
        for asset in re.findall(r'(?:src|href)="(/[^"]*\.(?:css|js))"', page.text):
            assert asset.startswith("/console/static/")
            assert admin.client.get(asset).status_code == 200


def test_pages_without_a_session_send_to_sign_in(stack: LiveStack) -> None:
    with httpx.Client(base_url=stack.base_url) as anonymous:
        for path in ("/console/integrations", "/console/writes", "/console/health"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
        forged = base64.urlsafe_b64encode(b"\x01" + b"x" * 60).decode()
        anonymous.cookies.set("pb_console", forged)
        answer = anonymous.get("/console/integrations")
        assert answer.headers["location"] == "/console/sign-in"
        assert (
            "Max-Age=0" in answer.headers["set-cookie"]
            or "expires" in answer.headers["set-cookie"].lower()
        )


def test_sign_in_needs_the_forms_token_and_an_admin_key(stack: LiveStack) -> None:
    token = stack.new_token(["admin"])
    with httpx.Client(base_url=stack.base_url) as client:
        # No form token (a login forced from another site): refused before the key is read.
        assert client.post("/console/sign-in", data={"api_key": token}).status_code == 403
        csrf = _csrf(client.get("/console/sign-in").text)
        refused = client.post(
            "/console/sign-in", data={"csrf": csrf, "api_key": stack.new_token(["read"])}
        )
        assert refused.status_code == 401 and "lacks the admin scope" in refused.text
        assert token not in refused.text
        signed = client.post("/console/sign-in", data={"csrf": csrf, "api_key": token})
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert token not in cookie  # sealed with the deployment's key


def test_a_key_limited_to_one_integration_sees_only_it(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    own = stack.create_integration()
    limited = Browser(stack, stack.new_token(["admin"], integrations=[own["id"]]))
    other_id = synced["integration"]["id"]
    page = limited.get("/console/integrations").text
    assert own["id"] in page and other_id not in page
    assert limited.get("/console/sync-runs", integration_id=other_id).status_code == 403
    assert limited.post(f"/console/integrations/{other_id}/sync").status_code == 403
    assert limited.get("/console/api-keys").status_code == 403
    assert limited.post("/console/api-keys", name="x", scopes="admin").status_code == 403
    # Another integration's write is not there for it.
    body = _charge(synced)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    assert limited.get(f"/console/writes/{job_id}").status_code == 404
    assert job_id not in limited.get("/console/writes").text
    assert limited.post(f"/console/writes/{job_id}/retry").status_code == 404
    stack.writes_settled()


def test_bad_input_is_a_page_saying_so(admin: Browser, synced: dict[str, Any]) -> None:
    assert admin.get("/console/writes", status="MAYBE").status_code == 400
    assert admin.get("/console/writes", since="yesterday").status_code == 400
    assert admin.get("/console/writes", page="-3").status_code == 200
    assert admin.get("/console/writes/no-such-job").status_code == 404
    missing = admin.get("/console/no/such/page")
    assert missing.status_code == 404 and "no console page" in missing.text
    assert missing.headers["x-frame-options"] == "DENY"
    assert admin.get("/console/webhooks/no-such-hook").status_code == 404
    assert admin.get("/console/webhooks/x", state="weird").status_code == 404
    integration_id = synced["integration"]["id"]
    assert admin.post(f"/console/integrations/{integration_id}/explode").status_code == 404
    refused = admin.post(f"/console/writes/{uuid.uuid4()}/retry")
    assert refused.status_code == 404
    # A form that does not validate shows itself again with the reason, never a 500.
    bad = admin.post(
        "/console/integrations",
        name="x",
        base_url="ftp://nowhere",
        integrationPartnerId="1",
        accountId="2",
        apiKey="3",
        sync_frequency="often",
    )
    assert bad.status_code == 400 and "base_url" in bad.text
    assert "Traceback" not in bad.text
    missing = admin.post("/console/integrations", name="x")
    assert missing.status_code == 400 and "credentials" in missing.text
    keys = admin.post("/console/api-keys", name="k", scopes="superuser")
    assert keys.status_code == 400 and "unknown scope" in keys.text
    assert admin.post("/console/api-keys", name="", scopes="read").status_code == 400
    for listed in (",,,", "x" * 3000, str(uuid.uuid4())):
        widened = admin.post("/console/api-keys", name="k", scopes="read", integration_ids=listed)
        assert widened.status_code == 400, listed
    assert (
        admin.post("/console/api-keys", name="k", scopes="read", expires_in_days="0").status_code
        == 400
    )


def test_editing_keeps_credentials_unless_all_are_given(stack: LiveStack, admin: Browser) -> None:
    made = stack.create_integration()
    page = admin.get(f"/console/integrations/{made['id']}/edit").text
    assert stack.credentials()["apiKey"] not in page  # write-only
    saved = admin.post(
        f"/console/integrations/{made['id']}",
        name="renamed",
        base_url=stack.sandbox_url,
        sync_frequency="2",
        sync_cadence="HOUR",
        active="on",
    )
    assert saved.status_code == 303, saved.text
    shown = stack.http.get(f"/v1/admin/integrations/{made['id']}/").json()["results"]
    assert (shown["name"], shown["sync_frequency"], shown["sync_cadence"]) == ("renamed", 2, "HOUR")
    assert shown["active"] is True
    checked = admin.post(f"/console/integrations/{made['id']}/check")
    assert checked.status_code == 303
    assert "took the credentials" in admin.get("/console/integrations").text
    # Moving it elsewhere needs the credentials again, as the API says.
    moved = admin.post(
        f"/console/integrations/{made['id']}", name="renamed", base_url="http://127.0.0.1:9"
    )
    assert moved.status_code == 400 and "credentials" in moved.text
    disabled = admin.post(f"/console/integrations/{made['id']}/disable")
    assert disabled.status_code == 303
    assert (
        stack.http.get(f"/v1/admin/integrations/{made['id']}/").json()["results"]["active"] is False
    )


def test_writes_filter_by_status_operation_and_date(
    stack: LiveStack, admin: Browser, synced: dict[str, Any]
) -> None:
    body = _charge(synced)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    assert _status(stack, job_id)["write_status"] == "SUCCESS"
    today = stack.clock.today().isoformat()
    integration_id = synced["integration"]["id"]
    assert job_id in admin.get("/console/writes", status="SUCCESS", since=today).text
    assert job_id not in admin.get("/console/writes", status="FAILURE").text
    assert job_id not in admin.get("/console/writes", operation="resident_payment").text
    assert (
        job_id
        in admin.get(
            "/console/writes", operation="resident_charge", integration_id=integration_id
        ).text
    )
    assert job_id not in admin.get("/console/writes", until="2000-01-01").text
    detail = admin.get(f"/console/writes/{job_id}").text
    assert f"&lt;TransactionID&gt;{body['reference_number']}&lt;/TransactionID&gt;" in detail
    assert "&lt;Amount&gt;75.00&lt;/Amount&gt;" in detail
    # The chart counts the write on its day, under its status.
    chart = admin.get("/console/writes", integration_id=integration_id).text
    assert re.search(rf"<title>{today}: [1-9]\d* SUCCESS</title>", chart), chart[:2000]


def test_writes_show_and_filter_what_their_items_became(
    stack: LiveStack, admin: Browser, synced: dict[str, Any]
) -> None:
    """Waiting, posted and rejected writes are told apart: each row shows its items' states
    (Propexo's status says SUCCESS for all three), and the list filters by them."""
    bodies = [_charge(synced) for _ in range(3)]
    jobs = [
        stack.http.post("/v1/resident-charges/resman/", json=b).json()["meta"]["job_id"]
        for b in bodies
    ]
    for job in jobs:
        assert _status(stack, job)["write_status"] == "SUCCESS"
    approve, reject = (_pending(stack, b["reference_number"])[0] for b in bodies[1:])
    stack.sandbox.post(f"/_sandbox/partner-transactions/{approve['id']}/approve", json={})
    stack.sandbox.post(f"/_sandbox/partner-transactions/{reject['id']}/reject")
    stack.sync(synced["integration"]["id"])
    page = admin.get("/console/writes").text
    rows = {job: _row_of(page, job) for job in jobs}
    assert 'data-item-status="ACCEPTED"' in rows[jobs[0]]
    assert 'data-item-status="POSTED"' in rows[jobs[1]]
    assert 'data-item-status="ACCEPTED"' in rows[jobs[2]]  # rejected: not found yet
    posted = admin.get("/console/writes", item_status="POSTED").text
    assert jobs[1] in posted and jobs[0] not in posted and jobs[2] not in posted
    assert admin.get("/console/writes", item_status="SOMETIMES").status_code == 400
    detail = admin.get(f"/console/writes/{jobs[1]}").text
    assert "found " in detail and "accepted " in detail
    waiting = admin.get(f"/console/writes/{jobs[0]}").text
    assert "waiting for approval since" in waiting


def _row_of(page: str, job_id: str) -> str:
    """The table row of one write on the writes page."""
    match = re.search(rf'<tr data-job-id="{job_id}".*?</tr>', page, re.DOTALL)
    assert match, job_id
    return match.group(0)


def test_health_shows_the_engine_migration_and_queue(
    stack: LiveStack, admin: Browser, synced: dict[str, Any]
) -> None:
    # A write the stack's worker sends now: it has been seen within the last ten minutes.
    job_id = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()["meta"][
        "job_id"
    ]
    assert _status(stack, job_id)["write_status"] == "SUCCESS"
    page = admin.get("/console/health").text
    assert ("SQLite" if stack.runtime.database.is_sqlite else "PostgreSQL") in page
    assert "current" in page
    workers = re.search(r'id="workers">([^<]*)<', page)
    assert workers and worker_name() in workers.group(1).split(", "), page


def test_messages_are_sealed_and_not_left_by_background_refreshes(stack: LiveStack) -> None:
    browser = Browser(stack, stack.new_token(["admin"]))
    browser.client.cookies.set("pb_console_flash", "Your key was compromised", path="/console")
    assert "compromised" not in browser.get("/console/health").text
    assert browser.post("/console/sign-out").status_code == 303
    refreshed = browser.client.get("/console/health", headers={"X-Console-Refresh": "1"})
    assert refreshed.status_code == 303 and "pb_console_flash" not in refreshed.headers.get(
        "set-cookie", ""
    )


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(stack: LiveStack) -> None:
    browser = Browser(stack, stack.new_token(["admin"]))
    stolen = browser.client.cookies["pb_console"]
    assert browser.post("/console/sign-out").status_code == 303
    with httpx.Client(base_url=stack.base_url) as thief:
        thief.cookies.set("pb_console", stolen, path="/console")
        answer = thief.get("/console/api-keys")
        assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"


def test_the_sign_in_form_token_cannot_be_empty(stack: LiveStack) -> None:
    with httpx.Client(base_url=stack.base_url) as client:
        empty = client.post(
            "/console/sign-in", data={"csrf": "", "api_key": stack.new_token(["admin"])}
        )
        assert empty.status_code == 403 and "pb_console=" not in empty.headers.get("set-cookie", "")


def test_odd_numbers_dates_and_nul_are_refused_not_crashed(
    admin: Browser, synced: dict[str, Any]
) -> None:
    for params in (
        {"page": "²"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "99999999999"},
    ):
        assert admin.get("/console/writes", **params).status_code == 200, params
    for params in ({"until": "9999-12-31"}, {"since": "0001-01-05"}, {"until": "²"}):
        assert admin.get("/console/writes", **params).status_code == 400, params
    integration_id = synced["integration"]["id"]
    for form in ({"sync_frequency": "²"}, {"sync_frequency": "0"}):
        answer = admin.post(f"/console/integrations/{integration_id}", name="x", **form)
        assert answer.status_code == 400 and "sync_frequency" in answer.text, answer.text[:300]
    assert (
        admin.post("/console/api-keys", name="k", scopes="read", expires_in_days="²").status_code
        == 400
    )
    nul = admin.post("/console/api-keys", name="a\x00b", scopes="read")
    assert nul.status_code == 400 and "NUL" in nul.text
    assert admin.post("/console/integrations", name="a\x00b").status_code == 400


def test_a_limited_key_is_offered_only_what_it_may_use(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    limited = Browser(stack, stack.new_token(["admin"], integrations=[synced["integration"]["id"]]))
    page = limited.get("/console/integrations").text
    assert 'href="/console/api-keys"' not in page and 'href="/console/health"' not in page
    assert limited.get("/console/health").status_code == 403


def test_an_unknown_outcome_is_retried_only_once_checked(
    stack: LiveStack,
    admin: Browser,
    synced: dict[str, Any],
    dropping_server: tuple[str, list[bytes]],
) -> None:
    url, received = dropping_server
    integration_id = synced["integration"]["id"]
    stack.repoint(integration_id, url)
    try:
        body = _charge(synced)
        job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
        assert _status(stack, job_id)["write_status"] == "FAILURE"
    finally:
        stack.repoint(integration_id, stack.sandbox_url)
    page = admin.get(f"/console/writes/{job_id}").text
    assert 'name="outcome_checked"' in page and body["reference_number"] in page
    refused = admin.post(f"/console/writes/{job_id}/retry")
    assert refused.status_code == 409 and "tick the box" in refused.text
    retried = admin.post(f"/console/writes/{job_id}/retry", outcome_checked="on")
    assert retried.status_code == 303, retried.text
    retry_job = retried.headers["location"].rsplit("/", 1)[1]
    assert _status(stack, retry_job)["write_status"] == "SUCCESS"
    assert len(received) == 1
    pending = stack.sandbox.get("/_sandbox/partner-transactions").json()["results"]
    assert [i["reference"] for i in pending].count(body["reference_number"]) == 1
