"""A write that ResMan refuses, cannot receive, or may have received: never posted twice."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack, free_port, wait_for


@pytest.fixture
def dropping_server() -> Iterator[tuple[str, list[bytes]]]:
    """A peer that reads a whole request, then closes without answering (outside the product)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                while len(body) < length:
                    body += connection.recv(65536)
                received.append(body)
            finally:
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    listener.close()


async def _rename_charge_code(stack: LiveStack, charge_code_id: str, code: str) -> None:
    from sqlalchemy import update

    from propbridge.billing.models import ChargeCode

    async with stack.runtime.database.write() as session:
        await session.execute(
            update(ChargeCode).where(ChargeCode.id == charge_code_id).values(code=code)
        )


def _status(stack: LiveStack, job_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (s := stack.http.get(f"/v1/admin/write-status/{job_id}").json())["write_status"]
            != "PENDING"
            and s
        )
    )


def test_document_rejected_by_resman_is_failure_with_its_reason(stack: LiveStack) -> None:
    integration = stack.create_integration()
    assert stack.sync(integration["id"])["state"] == "succeeded"
    residents = stack.http.get(
        "/v1/residents/", params={"integration_id": integration["id"]}
    ).json()
    codes = stack.http.get(
        "/v1/charge-codes/", params={"integration_id": integration["id"], "limit": 250}
    ).json()
    synced = {
        "integration": integration,
        "residents": residents["results"],
        "charge_codes": codes["results"],
    }
    body = _charge(synced)
    # ResMan retired the category since our sync: our copy still names it, ResMan does not.
    stack.call(_rename_charge_code(stack, body["charge_code_id"], "GONE"))
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    status = _status(stack, job_id)
    assert status["write_status"] == "FAILURE"
    assert "ChargeCode GONE was not found" in status["errors"][0]
    assert status["items"][0]["status"] == "REJECTED"


def test_dropped_connection_after_sending_is_outcome_unknown(
    stack: LiveStack, synced: dict[str, Any], dropping_server: tuple[str, list[bytes]]
) -> None:
    url, received = dropping_server
    integration_id = synced["integration"]["id"]
    stack.repoint(integration_id, url)
    try:
        job_id = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()[
            "meta"
        ]["job_id"]
        status = _status(stack, job_id)
    finally:
        stack.repoint(integration_id, stack.sandbox_url)
    assert status["write_status"] == "FAILURE"
    assert status["items"][0]["status"] == "OUTCOME_UNKNOWN"
    assert "check" in status["errors"][0].lower() and "Partner Transactions" in status["errors"][0]
    assert len(received) == 1, "an outcome-unknown write must not be re-sent"
    # ResMan may hold it already: a retry needs the caller to say they looked.
    refused = stack.http.post(f"/v1/admin/retry-write/{job_id}", json={})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "outcome_unknown"
    assert status["items"][0]["reference_number"] in refused.json()["error"]["message"]
    checked = stack.http.post(
        f"/v1/admin/retry-write/{job_id}", params={"outcome_checked": "true"}, json={}
    )
    assert checked.status_code == 200, checked.text
    assert _status(stack, checked.json()["job_id"])["write_status"] == "SUCCESS"
    assert len(received) == 1


def test_refused_connection_is_retried_later_not_failed(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    stack.repoint(integration_id, f"http://127.0.0.1:{free_port()}")
    try:
        job_id = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()[
            "meta"
        ]["job_id"]

        async def job_state() -> tuple[str, int, str | None]:
            from propbridge.jobs.models import Job

            async with stack.runtime.database.read() as session:
                job = await session.get(Job, job_id)
                assert job is not None
                return job.state, job.attempt, job.last_error

        state = wait_for(lambda: (s := stack.call(job_state()))[1] >= 1 and s[0] == "queued" and s)
    finally:
        stack.repoint(integration_id, stack.sandbox_url)
    assert "could not connect" in (state[2] or "")
    assert stack.http.get(f"/v1/admin/write-status/{job_id}").json()["write_status"] == "PENDING"
