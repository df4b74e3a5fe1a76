"""The operator console and the sandbox's Partner Transactions page in a real browser.

Each test makes what it needs (its integration, its charge, its webhook) on the session's
stack, and saves a screenshot of every page it visits."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import func, select

from propbridge.jobs.kinds import JobKind
from propbridge.jobs.models import Job
from tests.browser.conftest import Shots, sign_in
from tests.e2e.test_seed_path import _charge
from tests.e2e.test_webhooks import Receiver, _hook
from tests.support import LiveStack, synced_view, wait_for


def _card(page: Page, name: str) -> Any:
    return page.locator("section.integration", has=page.get_by_role("heading", name=name))


def _write_status(stack: LiveStack, job_id: str) -> str:
    status: str = stack.http.get(f"/v1/admin/write-status/{job_id}").json()["write_status"]
    return status


def _sync_jobs(stack: LiveStack, integration_id: str) -> int:
    async def count() -> int:
        async with stack.runtime.database.read() as session:
            statement = select(func.count(Job.id)).where(
                Job.kind == JobKind.SYNC, Job.integration_id == integration_id
            )
            return int((await session.execute(statement)).scalar_one())

    return stack.call(count())


def test_add_an_integration_sync_post_approve_and_watch_it_reconcile(
    stack: LiveStack, context: BrowserContext, page: Page, shots: Shots
) -> None:
    page.goto(f"{stack.base_url}/console/sign-in")
    shots.take(page, "sign-in")
    sign_in(page, stack)

    # Add an integration through the form.
    name = f"Browser {uuid.uuid4().hex[:6]}"
    page.get_by_role("link", name="Add integration").click()
    page.fill("#name", name)
    page.fill("#base-url", stack.sandbox_url)
    credentials = stack.credentials()
    page.fill("#partner", credentials["integrationPartnerId"])
    page.fill("#account", credentials["accountId"])
    page.fill("#api-key", credentials["apiKey"])
    page.select_option("#cadence", "DAY")
    shots.take(page, "integration-form")
    page.get_by_role("button", name="Add integration").click()
    expect(page.locator("#flash")).to_contain_text(f"Added integration {name}")
    card = _card(page, name)
    integration_id = card.get_attribute("data-integration-id")
    assert integration_id

    # Sync it; the page refreshes itself until the records are there.
    card.get_by_role("button", name="Sync now").click()
    expect(page.locator("#flash")).to_contain_text("Sync queued")
    expect(_card(page, name).locator("[data-model=resident_charges]")).not_to_have_text(
        "0", timeout=90_000
    )
    expect(_card(page, name).locator("[data-last-sync]")).not_to_have_text("—", timeout=30_000)
    shots.take(page, "integrations")
    page.goto(f"{stack.base_url}/console/sync-runs?integration_id={integration_id}")
    expect(page.locator("tr[data-state=succeeded]")).to_have_count(1)
    expect(page.locator("svg.chart")).to_be_visible()
    shots.take(page, "sync-runs")

    # A charge through the API, as a client would post it.
    body = _charge(synced_view(stack, {"id": integration_id}))
    posted = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert posted.status_code == 200, posted.text
    job_id = posted.json()["meta"]["job_id"]
    page.goto(f"{stack.base_url}/console/writes/{job_id}")
    expect(page.locator("[data-item-status=ACCEPTED]")).to_have_count(1, timeout=30_000)
    expect(page.locator("#mits-document")).to_contain_text(body["reference_number"])
    expect(page.locator("#mits-document")).to_contain_text("<Amount>75.00</Amount>")
    expect(page.locator("#pms-answer")).to_contain_text("accepted")

    # The property manager approves it on the sandbox's page (the default posting date).
    manager = context.new_page()
    manager.goto(f"{stack.sandbox_url}/partner-transactions")
    row = manager.locator(f"tr[data-reference='{body['reference_number']}']")
    expect(row).to_have_count(1)
    expect(manager.locator("#posting-date-help")).to_contain_text("Leave empty to post")
    shots.take(manager, "partner-transactions")
    row.locator("input[name=item_ids]").check()
    manager.get_by_role("button", name="Approve selected").click()
    expect(manager.locator("#flash")).to_contain_text("Approved 1 transaction,")
    expect(
        manager.locator(f"tr[data-history=posted][data-reference='{body['reference_number']}']")
    ).to_have_count(1)
    shots.take(manager, "partner-transactions-after")

    # The next sync finds it: the console shows the item posted, with its record.
    page.goto(f"{stack.base_url}/console/integrations")
    _card(page, name).get_by_role("button", name="Sync now").click()
    page.goto(f"{stack.base_url}/console/writes/{job_id}")
    expect(page.locator("[data-item-status=POSTED]")).to_have_count(1, timeout=90_000)
    expect(page.locator("#write-status")).to_have_text("SUCCESS")
    shots.take(page, "write")

    page.goto(f"{stack.base_url}/console/writes?integration_id={integration_id}")
    expect(page.locator(f"tr[data-job-id='{job_id}']")).to_have_count(1)
    expect(page.locator("svg.chart")).to_be_visible()
    # Its row says what its item became, and the list narrows to writes in that state.
    badge = page.locator(f"tr[data-job-id='{job_id}'] .item-states [data-item-status=POSTED]")
    expect(badge).to_have_count(1)
    page.locator("select[name=item_status]").select_option("UNCONFIRMED")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"tr[data-job-id='{job_id}']")).to_have_count(0)
    page.locator("select[name=item_status]").select_option("POSTED")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"tr[data-job-id='{job_id}']")).to_have_count(1)
    shots.take(page, "writes")
    page.goto(f"{stack.base_url}/console/health")
    expect(page.locator("#engine")).to_contain_text(
        "SQLite" if stack.runtime.database.is_sqlite else "PostgreSQL"
    )
    expect(page.locator("#revision")).to_contain_text("current")
    shots.take(page, "health")


def test_retry_a_failed_write_from_the_console_sends_it_once(
    stack: LiveStack, synced: dict[str, Any], page: Page, shots: Shots
) -> None:
    stack.writes_settled()
    stack.sandbox.post("/_sandbox/faults", json={"status_error": 1, "only_posts": True})
    try:
        body = _charge(synced)
        job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
        wait_for(lambda: _write_status(stack, job_id) == "FAILURE", timeout=30)
    finally:
        stack.sandbox.post("/_sandbox/faults", json={})
    sign_in(page, stack)
    page.goto(f"{stack.base_url}/console/writes?status=FAILURE")
    page.locator(f"tr[data-job-id='{job_id}']").get_by_role("link", name="details").click()
    expect(page.locator("#write-status")).to_have_text("FAILURE")
    shots.take(page, "write-failed")
    page.locator("#retry").click()
    expect(page.locator("#flash")).to_contain_text("Retry queued")
    retry_job = page.url.rsplit("/", 1)[1]
    assert retry_job != job_id
    expect(page.locator("#write-status")).to_have_text("SUCCESS", timeout=30_000)

    # The original no longer offers a retry; retrying it anyway (a form kept from before, or
    # the API) answers with the retry that went through: nothing is sent.
    page.goto(f"{stack.base_url}/console/writes/{job_id}")
    expect(page.locator("ol.chain li")).to_have_count(2)
    expect(page.locator("#retry")).to_have_count(0)
    again = stack.http.post(f"/v1/admin/retry-write/{job_id}", json={})
    assert again.json()["job_id"] == retry_job
    pending = stack.sandbox.get("/_sandbox/partner-transactions").json()["results"]
    assert [i["reference"] for i in pending].count(body["reference_number"]) == 1


def test_redeliver_a_webhook_delivery(
    stack: LiveStack, synced: dict[str, Any], page: Page, shots: Shots
) -> None:
    receiver = Receiver()
    try:
        hook = _hook(stack, receiver, triggers=["WRITE_OPERATION_SUCCESS"])
        posted = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced))
        job_id = posted.json()["meta"]["job_id"]

        def mine() -> list[dict[str, Any]]:
            return [
                e for e in receiver.of("WRITE_OPERATION_SUCCESS") if e.get("root_job_id") == job_id
            ]

        wait_for(lambda: len(mine()) == 1, timeout=30)
        sign_in(page, stack)
        page.goto(f"{stack.base_url}/console/webhooks")
        shots.take(page, "webhooks")
        page.locator(f"tr[data-webhook-id='{hook['id']}']").get_by_role(
            "link", name="deliveries"
        ).click()
        delivery = page.locator("section.delivery[data-state=delivered]").first
        expect(delivery).to_contain_text("1 attempt")
        shots.take(page, "webhook-deliveries")
        delivery.get_by_role("button", name="Redeliver").click()
        expect(page.locator("#flash")).to_contain_text("Redelivery queued")
        wait_for(lambda: len(receiver.of("WRITE_OPERATION_SUCCESS")) >= 2, timeout=30)
        expect(page.locator("section.delivery").first).to_contain_text("2 attempts", timeout=20_000)
    finally:
        receiver.server.shutdown()


def test_a_wrong_key_is_refused_and_a_revoked_one_ends_the_session(
    stack: LiveStack, page: Page, shots: Shots
) -> None:
    page.goto(f"{stack.base_url}/console/integrations")
    page.wait_for_url(f"{stack.base_url}/console/sign-in")
    page.fill("#api-key", "pb_not-a-key")
    page.click("button[type=submit]")
    expect(page.locator("#sign-in-error")).to_contain_text("Unknown, expired or revoked")
    shots.take(page, "sign-in-refused")
    page.fill("#api-key", stack.new_token(["read", "write"]))
    page.click("button[type=submit]")
    expect(page.locator("#sign-in-error")).to_contain_text("lacks the admin scope")

    # Keys made and revoked from the console's own page.
    sign_in(page, stack)
    page.goto(f"{stack.base_url}/console/api-keys")
    name = f"browser key {uuid.uuid4().hex[:6]}"
    page.fill("#key-name", name)
    page.check("input[name=scopes][value=admin]")
    page.get_by_role("button", name="Create key").click()
    token = page.locator("#token").inner_text().strip()
    assert token.startswith("pb_")
    shots.take(page, "api-keys")
    assert stack.client(token).get("/v1/admin/api-keys/").status_code == 200

    # Signed in with that key, then revoked: the session ends at the next page.
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        theirs = other.new_page()
        sign_in(theirs, stack, token)
        page.on("dialog", lambda dialog: dialog.accept())
        page.locator(f"tr[data-key-name='{name}']").get_by_role("button", name="Revoke").click()
        expect(page.locator("#flash")).to_contain_text(f"Revoked {name}")
        assert stack.client(token).get("/v1/admin/api-keys/").status_code == 401
        theirs.goto(f"{stack.base_url}/console/health")
        theirs.wait_for_url(f"{stack.base_url}/console/sign-in")
        expect(theirs.locator("#flash")).to_contain_text("no longer valid")
    finally:
        other.close()


def test_a_cross_site_form_post_is_refused(
    stack: LiveStack, synced: dict[str, Any], context: BrowserContext, page: Page
) -> None:
    integration_id = synced["integration"]["id"]
    stack.writes_settled()
    sign_in(page, stack)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    before = _sync_jobs(stack, integration_id)

    # A page on another site posts the console's "Sync now" form, with the right token even.
    target = f"{stack.base_url}/console/integrations/{integration_id}/sync"
    attack = (
        f'<form id="f" method="post" action="{target}">'
        f'<input type="hidden" name="csrf" value="{csrf}"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )
    context.route(
        "http://evil.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=attack),
    )
    evil = context.new_page()
    evil.goto("http://evil.example/")
    evil.wait_for_url(re.compile(re.escape(stack.base_url) + r"/console/.*"))
    assert _sync_jobs(stack, integration_id) == before

    # Past the browser's SameSite rule, the console itself refuses: another Origin, a
    # cross-site fetch, no token, or another session's token.
    cookies = {c["name"]: c["value"] for c in context.cookies(f"{stack.base_url}/console/")}
    assert "pb_console" in cookies
    with httpx.Client(base_url=stack.base_url, cookies=cookies) as client:
        for headers, form in [
            ({"Origin": "http://evil.example"}, {"csrf": csrf}),
            ({"Sec-Fetch-Site": "cross-site"}, {"csrf": csrf}),
            ({}, {}),
            ({}, {"csrf": "x" * 43}),
        ]:
            refused = client.post(
                f"/console/integrations/{integration_id}/sync", data=form, headers=headers
            )
            assert refused.status_code == 403, (headers, form, refused.text[:200])
        assert _sync_jobs(stack, integration_id) == before
        framed = client.get("/console/integrations")
        assert framed.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in framed.headers["content-security-policy"]
