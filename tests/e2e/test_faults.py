"""Hundreds of charges through a ResMan that misbehaves in every way the sandbox knows.

Every job must end in a definite state; no charge may be pending twice in ResMan because of an
automatic retry; every uncertain outcome is reported as OUTCOME_UNKNOWN and reconciled once the
charge shows up; 429s are honoured. Bounded: short timeouts and fast backoff.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from propbridge.connectors.resman.envelope import parse_envelope
from propbridge.connectors.resman.xml_safety import UnsafeXmlError
from propbridge.jobs.models import ACTIVE_STATES, Job
from propbridge.sandbox.resman.faults import (
    MIXED_POST_FAULTS,
    billion_laughs,
    external_entity,
)
from propbridge.sandbox.resman.seed import SeedSize
from tests.support import LiveStack, list_all, wait_for

CHARGES = 1000
MIXED_FAULTS = {**MIXED_POST_FAULTS, "seed": 11}


@pytest.fixture
def faulty(own_database: str, tmp_path: Path) -> Iterator[LiveStack]:
    live = LiveStack(
        own_database,
        tmp_path / "data",
        SeedSize(1, 40, 2),
        resman_timeout_seconds=1.0,
        retry_base_seconds=0.05,
    )
    yield live
    live.close()


async def _post_all(stack: LiveStack, bodies: list[dict[str, Any]]) -> list[str]:
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(
        base_url=stack.base_url,
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=60,
    ) as client:

        async def one(body: dict[str, Any]) -> str:
            async with limit:
                response = await client.post("/v1/resident-charges/resman/", json=body)
                assert response.status_code == 200, response.text
                return str(response.json()["meta"]["job_id"])

        return await asyncio.gather(*(one(body) for body in bodies))


def _active_writes(stack: LiveStack) -> int:
    async def count() -> int:
        async with stack.runtime.database.read() as session:
            return int(
                (
                    await session.execute(
                        select(func.count()).where(
                            Job.kind == "write", Job.state.in_(ACTIVE_STATES)
                        )
                    )
                ).scalar_one()
            )

    return stack.call(count())


def test_mixed_faults_lose_nothing_and_post_nothing_twice(faulty: LiveStack) -> None:
    stack = faulty
    integration = stack.create_integration()
    stack.sync(integration["id"])
    residents = [
        r
        for r in stack.http.get("/v1/residents/", params={"limit": 250}).json()["results"]
        if r["x_lease_id"]
    ]
    codes = stack.http.get("/v1/charge-codes/", params={"limit": 250}).json()["results"]
    code = {c["property_id"]: c["id"] for c in codes if c["code"] == "PETF"}
    batch = f"faults-{uuid.uuid4().hex[:6]}"
    bodies = [
        {
            "integration_id": integration["id"],
            "resident_id": residents[i % len(residents)]["id"],
            "charge_code_id": code[residents[i % len(residents)]["property_id"]],
            "batch_id": batch,
            "transaction_date": "2026-11-10T08:00:00Z",
            "description": "Fault test",
            "notes": str(i),
            "amount_in_cents": 100 + i,
            "reference_number": f"F-{i}-{uuid.uuid4().hex[:6]}",
        }
        for i in range(CHARGES)
    ]
    assert stack.sandbox.post("/_sandbox/faults", json=MIXED_FAULTS).status_code == 200
    try:
        jobs = asyncio.run(_post_all(stack, bodies))
        wait_for(lambda: _active_writes(stack) == 0, timeout=240, interval=0.5)
    finally:
        report = stack.sandbox.get("/_sandbox/faults").json()
        stack.sandbox.post("/_sandbox/faults", json={})
    assert report["early_retries"] == 0, report  # no document sent again before its Retry-After
    assert set(report["injected"]) == set(MIXED_FAULTS) - {
        "only_posts",
        "retry_after_seconds",
        "hold_seconds",
        "seed",
    }, report

    statuses = {job: stack.http.get(f"/v1/admin/write-status/{job}").json() for job in jobs}
    assert {s["write_status"] for s in statuses.values()} <= {"SUCCESS", "FAILURE"}
    pending = stack.sandbox.get("/_sandbox/partner-transactions").json()["results"]
    held = Counter(p["reference"] for p in pending)
    assert max(held.values()) == 1  # never twice in ResMan
    unknown = []
    for body, job in zip(bodies, jobs, strict=True):
        status = statuses[job]
        [item] = status["items"]
        reference = body["reference_number"]
        if item["status"] == "ACCEPTED":
            assert status["write_status"] == "SUCCESS" and held[reference] == 1
        elif item["status"] == "REJECTED":
            assert status["write_status"] == "FAILURE" and held[reference] == 0
            assert status["errors"]
        else:
            assert item["status"] == "OUTCOME_UNKNOWN", item
            assert status["write_status"] == "FAILURE"
            assert "Outcome unknown" in status["errors"][0]
            unknown.append((job, reference))
    assert unknown, "the faults should have left some outcomes unknown"
    assert any(held[ref] for _, ref in unknown), "some unknown outcomes were in fact stored"

    # The manager approves everything; the next sync settles every unknown outcome it can.
    files = {p["file_id"] for p in pending}
    for file_id in files:
        assert stack.sandbox.post(f"/_sandbox/partner-files/{file_id}/approve").status_code == 200
    stack.sync(integration["id"])
    for job, reference in unknown:
        status = stack.http.get(f"/v1/admin/write-status/{job}").json()
        if held[reference]:
            assert status["write_status"] == "SUCCESS", status
            assert status["items"][0]["status"] == "POSTED" and status["created_record_id"]
        else:
            assert status["items"][0]["status"] == "OUTCOME_UNKNOWN"
    ledger = {
        c["reference_number"]
        for c in list_all(stack, "/v1/resident-charges/", integration_id=integration["id"])
    }
    posted = {b["reference_number"] for b in bodies} & ledger
    assert posted == {ref for ref, n in held.items() if n}


class Listener:
    """A TCP port that records whether anything connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/evil.dtd"
        self.connections = 0
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.sock.close()


def test_hostile_answers_are_refused_without_expanding_or_fetching() -> None:
    listener = Listener()
    try:
        for document in (billion_laughs(), external_entity(listener.url)):
            started = time.perf_counter()
            with pytest.raises(UnsafeXmlError):
                parse_envelope(document)
            assert time.perf_counter() - started < 1.0
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        listener.close()


def test_hostile_answers_to_reads_fail_the_sync_cleanly(faulty: LiveStack) -> None:
    stack = faulty
    listener = Listener()
    integration = stack.create_integration()
    stack.sandbox.post(
        "/_sandbox/faults", json={"hostile_xml": 1.0, "hostile_url": listener.url, "seed": 3}
    )
    try:
        outcome = stack.sync(integration["id"])
        assert outcome["state"] in ("queued", "failed")  # retried later, never parsed
        runs = stack.http.get(f"/v1/admin/integrations/{integration['id']}/sync-runs").json()
        assert runs["results"][0]["state"] == "failed"
        error = runs["results"][0]["error"]
        assert "unreadable XML" in error or "invalid JSON" in error, error
        assert listener.connections == 0
    finally:
        stack.sandbox.post("/_sandbox/faults", json={})
        listener.close()


def test_fault_settings_are_validated(faulty: LiveStack) -> None:
    for bad in ({"rate_500": 2}, {"nope": 1}, {"rate_500": 0.7, "rate_503": 0.7}, [1]):
        assert faulty.sandbox.post("/_sandbox/faults", json=bad).status_code == 400
    assert (
        faulty.sandbox.post("/_sandbox/faults", json={"latency_ms": 1}).json()["settings"][
            "latency_ms"
        ]
        == 1
    )
    faulty.sandbox.post("/_sandbox/faults", json={})
