"""`can_authenticate` says how the PMS last answered the integration's credentials: false after
it refused them (HTTP 401/403) in a sync or a write, true after it took them, true (unknown)
for credentials not tried yet.

Against the live stack and the sandbox over HTTP; the write cases go through a pass-through
proxy in front of the sandbox that can answer 401 instead, as a ResMan that stopped taking the
key would.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from propbridge.integrations.models import Integration
from tests.support import LiveStack, list_all, wait_for


def _shown(stack: LiveStack, integration_id: str) -> bool:
    """`can_authenticate` as the by-id route and the list both show it (they must agree)."""
    one = stack.http.get(f"/v1/admin/integrations/{integration_id}/").json()["results"]
    listed = next(
        row for row in list_all(stack, "/v1/admin/integrations/") if row["id"] == integration_id
    )
    assert one["can_authenticate"] is listed["can_authenticate"]
    answer: bool = one["can_authenticate"]
    return answer


def _stored(stack: LiveStack, integration_id: str) -> tuple[bool | None, datetime | None]:
    async def read() -> tuple[bool | None, datetime | None]:
        async with stack.runtime.database.read() as session:
            found = await session.get(Integration, integration_id)
            assert found is not None
            return found.last_auth_ok, found.last_auth_at

    return stack.call(read())


def _put_credentials(stack: LiveStack, integration_id: str, api_key: str) -> dict[str, Any]:
    response = stack.http.put(
        f"/v1/admin/integrations/{integration_id}/",
        json={"credentials": {**stack.credentials(), "apiKey": api_key}},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def test_a_sync_with_wrong_credentials_makes_it_false_until_they_are_replaced(
    stack: LiveStack,
) -> None:
    created = stack.create_integration(credentials={**stack.credentials(), "apiKey": "wrong-key"})
    integration_id = created["id"]
    # Never tried: taken to work, as Propexo shows a new integration.
    assert created["can_authenticate"] is True and _shown(stack, integration_id) is True
    assert _stored(stack, integration_id) == (None, None)

    outcome = stack.sync(integration_id)
    assert outcome["state"] == "failed" and "401" in (outcome["error"] or "")
    assert _shown(stack, integration_id) is False
    refused_at = _stored(stack, integration_id)[1]
    assert refused_at is not None
    # Refused again: still false, and since the first refusal.
    stack.sync(integration_id)
    assert _stored(stack, integration_id) == (False, refused_at)

    # New credentials are untried: true again until a call says otherwise.
    assert _put_credentials(stack, integration_id, stack.credentials()["apiKey"])[
        "can_authenticate"
    ]
    assert _stored(stack, integration_id) == (None, None)
    assert stack.sync(integration_id)["state"] == "succeeded"
    assert _shown(stack, integration_id) is True
    assert _stored(stack, integration_id)[0] is True

    assert _put_credentials(stack, integration_id, "wrong-again")["can_authenticate"] is True
    assert stack.sync(integration_id)["state"] == "failed"
    assert _shown(stack, integration_id) is False


def test_other_settings_leave_the_answer_as_it_was(stack: LiveStack) -> None:
    created = stack.create_integration(credentials={**stack.credentials(), "apiKey": "wrong-key"})
    stack.sync(created["id"])
    renamed = stack.http.put(
        f"/v1/admin/integrations/{created['id']}/", json={"name": "renamed", "active": True}
    )
    assert renamed.status_code == 200 and renamed.json()["result"]["can_authenticate"] is False


class RefusingProxy:
    """Passes every request on to the sandbox, or (while `refuse` is set) answers 401."""

    def __init__(self, target: str) -> None:
        self.refuse = False
        upstream = httpx.Client(base_url=target, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.refuse:
                    self._answer(401, b"Unauthorized", "text/plain")
                    return
                skip = {"host", "content-length", "connection", "accept-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                answer = upstream.request(self.command, self.path, content=body, headers=headers)
                self._answer(
                    answer.status_code,
                    answer.content,
                    answer.headers.get("content-type", "text/plain"),
                )

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._upstream = upstream
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._upstream.close()


@pytest.fixture
def proxy(stack: LiveStack) -> Iterator[RefusingProxy]:
    running = RefusingProxy(stack.sandbox_url)
    yield running
    running.close()


def _post_charge(stack: LiveStack, integration_id: str) -> dict[str, Any]:
    """Post a pet fee for one of the integration's residents; its write status once settled."""
    residents = list_all(stack, "/v1/residents/", integration_id=integration_id)
    resident = next(r for r in residents if r["x_lease_id"])
    codes = list_all(stack, "/v1/charge-codes/", integration_id=integration_id)
    code = next(
        c for c in codes if c["property_id"] == resident["property_id"] and c["code"] == "PETF"
    )
    body = {
        "integration_id": integration_id,
        "resident_id": resident["id"],
        "charge_code_id": code["id"],
        "batch_id": f"auth-{uuid.uuid4().hex[:8]}",
        "transaction_date": "2026-11-02T10:00:00Z",
        "description": "Pet fee",
        "notes": "credentials test",
        "amount_in_cents": 2500,
        "reference_number": f"AUTH-{uuid.uuid4().hex[:10]}",
    }
    response = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert response.status_code == 200, response.text
    job_id = response.json()["meta"]["job_id"]

    def settled() -> dict[str, Any] | None:
        status: dict[str, Any] = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
        return None if status["write_status"] == "PENDING" else status

    status = wait_for(settled)
    assert status is not None
    return status


def test_writes_set_it_false_when_refused_and_true_when_taken(
    stack: LiveStack, proxy: RefusingProxy
) -> None:
    integration_id = stack.create_integration()["id"]
    assert stack.sync(integration_id)["state"] == "succeeded"
    assert _stored(stack, integration_id)[0] is True
    stack.repoint(integration_id, proxy.url)  # the credentials again: untried
    assert _stored(stack, integration_id) == (None, None)

    assert _post_charge(stack, integration_id)["write_status"] == "SUCCESS"
    assert _stored(stack, integration_id)[0] is True and _shown(stack, integration_id) is True

    proxy.refuse = True
    refused = _post_charge(stack, integration_id)
    assert refused["write_status"] == "FAILURE"
    assert "refused the credentials (HTTP 401)" in refused["errors"][0], refused
    assert _shown(stack, integration_id) is False
    # A sync refused the same way keeps it false (v2 reads: HTTP 401 too).
    assert stack.sync(integration_id)["state"] == "failed"
    assert _shown(stack, integration_id) is False

    proxy.refuse = False
    assert _post_charge(stack, integration_id)["write_status"] == "SUCCESS"
    assert _shown(stack, integration_id) is True
