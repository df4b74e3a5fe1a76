"""Attacks: slow or endless webhook endpoints that would hold the workers (and another
tenant's writes) hostage; a flood of webhooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack, wait_for


class Tarpit:
    """An endpoint that hangs without answering (`dribble`: answers 200, then dribbles a body
    for ever), until released."""

    def __init__(self, dribble: bool) -> None:
        self.release = threading.Event()
        self.hits = 0
        tarpit = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                tarpit.hits += 1
                self.rfile.read(int(self.headers.get("content-length", "0")))
                if not dribble:
                    tarpit.release.wait(60)
                    return
                self.send_response(200)
                self.end_headers()
                while not tarpit.release.is_set():
                    try:
                        self.wfile.write(b"x" * 1024)
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(0.05)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    pit = Tarpit(dribble=False)
    yield pit
    pit.close()


@pytest.fixture
def dribbler() -> Iterator[Tarpit]:
    pit = Tarpit(dribble=True)
    yield pit
    pit.close()


def test_one_tenants_slow_endpoints_do_not_hold_anothers_writes(
    stack: LiveStack, synced: dict[str, Any], tarpit: Tarpit
) -> None:
    tenant = stack.create_integration(max_job_concurrency=2)
    tenant_key = stack.client(stack.new_token(integrations=[tenant["id"]]))
    hooks = [
        tenant_key.post(
            "/v1/webhooks/",
            json={"url": tarpit.url, "triggers": ["FIRST_SYNC_COMPLETE"], "active": True},
        ).json()["result"]
        for _ in range(8)
    ]
    stack.http.post(f"/v1/admin/integrations/{tenant['id']}/manual-sync")
    wait_for(lambda: tarpit.hits >= 2, timeout=30)
    # Eight deliveries of the tenant are due and its endpoints hang: another integration's
    # charge still goes through while they do.
    job_id = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()["meta"][
        "job_id"
    ]
    assert _status(stack, job_id)["write_status"] == "SUCCESS"
    # … and did so before any of the tenant's attempts ended: it did not wait for a worker.
    attempts = [
        d["attempts"]
        for hook in hooks
        for d in tenant_key.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["results"]
    ]
    assert attempts and set(attempts) == {0}
    tarpit.release.set()
    for hook in hooks:
        tenant_key.delete(f"/v1/webhooks/{hook['id']}")


def test_an_endless_answer_is_read_only_so_far(stack: LiveStack, dribbler: Tarpit) -> None:
    hook = stack.http.post(
        "/v1/webhooks/",
        json={"url": dribbler.url, "triggers": ["FIRST_SYNC_COMPLETE"], "active": True},
    ).json()["result"]
    stack.sync(stack.create_integration()["id"])

    def attempt() -> Any:
        deliveries = stack.http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["results"]
        return next((a for d in deliveries for a in d["attempt_log"]), None)

    # The body never ends, but at most 64 KiB of it is read: the attempt ends without waiting.
    first = wait_for(attempt, timeout=30)
    assert first["status_code"] == 200
    assert not dribbler.release.is_set()
    stack.http.delete(f"/v1/webhooks/{hook['id']}")


def test_a_key_cannot_make_endless_webhooks(stack: LiveStack) -> None:
    integration = stack.create_integration()
    key = stack.client(stack.new_token(integrations=[integration["id"]]))
    body = {"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"]}
    made = [key.post("/v1/webhooks/", json=body) for _ in range(25)]
    assert {r.status_code for r in made} == {200}
    refused = key.post("/v1/webhooks/", json=body)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "webhook_limit"
    listed = key.get("/v1/webhooks/", params={"active": "false", "limit": 100}).json()
    assert listed["meta"]["total"] == 25
    for response in made:
        key.delete(f"/v1/webhooks/{response.json()['result']['id']}")
