"""Webhooks: the CRUD routes, signed deliveries, retries in order, events from syncs and writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from examples.webhook_receiver import make_handler, verify
from propbridge.integrations.credentials import generate_key_text
from propbridge.sandbox.resman.seed import SeedSize
from propbridge.webhooks.signing import signed_headers
from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_payments_batches_generic import _charge_code_unknown_to_resman
from tests.e2e.test_seed_path import _charge, _pending
from tests.support import LiveStack, assert_matches_openapi, free_port, wait_for


class Receiver:
    """A client's endpoint: verifies signatures, can fail its first N deliveries."""

    def __init__(self, port: int = 0) -> None:
        self.secret = ""
        self.fail_first = 0
        self.events: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), make_handler("", self._on_event))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _on_event(self, headers: dict[str, str], event: dict[str, Any]) -> int:
        with self.lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500
            self.events.append((headers, event))
        return 204

    def use(self, secret: str) -> None:
        self.secret = secret
        self.server.RequestHandlerClass = make_handler(secret, self._on_event)

    def of(self, event: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for _, e in self.events if e["event"] == event]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    live = Receiver()
    yield live
    live.server.shutdown()


def _of_job(receiver: Receiver, event: str, job_id: str) -> list[dict[str, Any]]:
    """The events of one write (other tests' writes may end while a hook listens)."""
    return [e for e in receiver.of(event) if e.get("root_job_id") == job_id]


def _hook(stack: LiveStack, receiver: Receiver, **body: Any) -> dict[str, Any]:
    stack.writes_settled()
    created = stack.http.post("/v1/webhooks/", json={"url": receiver.url, "active": True, **body})
    assert created.status_code == 200, created.text
    receiver.use(created.json()["result"]["secret"])
    return created.json()["result"]


def test_crud_matches_propexo(stack: LiveStack, receiver: Receiver) -> None:
    created = stack.http.post(
        "/v1/webhooks/",
        json={"url": receiver.url, "triggers": ["DATA_NEW", "SYNC_COMPLETE"], "model": "fees"},
    )
    assert created.status_code == 200, created.text
    assert_matches_openapi("/v1/webhooks/", "post", created.json())
    hook = created.json()["result"]
    assert hook["active"] is False and len(hook["secret"]) >= 10 and hook["system"] == "PRODUCTION"
    assert {(t["trigger"], t["model"]) for t in hook["triggers"]} == {
        ("DATA_NEW", "fees"),
        ("SYNC_COMPLETE", None),
    }
    one = stack.http.get(f"/v1/webhooks/{hook['id']}")
    assert_matches_openapi("/v1/webhooks/{webhook_id}", "get", one.json())
    assert one.json()["results"]["secret"] == hook["secret"]
    inactive = stack.http.get("/v1/webhooks/", params={"active": "false"}).json()
    assert hook["id"] in {h["id"] for h in inactive["results"]}
    assert_matches_openapi("/v1/webhooks/", "get", inactive)
    changed = stack.http.put(
        f"/v1/webhooks/{hook['id']}",
        json={
            "active": True,
            "secret": "s3cret-s3cret",
            "headers": [{"header": "x-a", "value": "1"}],
        },
    )
    assert changed.status_code == 200
    assert_matches_openapi("/v1/webhooks/{webhook_id}", "put", changed.json())
    assert changed.json()["result"]["secret"] == "s3cret-s3cret"
    active = stack.http.get("/v1/webhooks/").json()
    assert hook["id"] in {h["id"] for h in active["results"]}
    deleted = stack.http.delete(f"/v1/webhooks/{hook['id']}")
    assert deleted.json() == {"result": {"id": hook["id"]}}
    assert stack.http.get(f"/v1/webhooks/{hook['id']}").status_code == 404
    for bad in (
        {"url": "ftp://x", "triggers": ["DATA_NEW"]},
        {"url": receiver.url, "triggers": []},
        {"url": receiver.url, "triggers": ["NOPE"]},
        {"url": receiver.url, "triggers": ["DATA_NEW"], "secret": "short"},
        {"url": receiver.url, "triggers": ["DATA_NEW"], "model": "spaceships"},
    ):
        assert stack.http.post("/v1/webhooks/", json=bad).status_code == 400, bad
    read_only = stack.client(stack.new_token(scopes=["read"]))
    assert read_only.get("/v1/webhooks/").status_code == 403


def test_write_events_are_signed_retried_and_in_order(
    stack: LiveStack, synced: dict[str, Any], receiver: Receiver
) -> None:
    hook = _hook(stack, receiver, triggers=["WRITE_OPERATION_SUCCESS", "WRITE_OPERATION_FAILURE"])
    receiver.fail_first = 2
    jobs = []
    for _ in range(3):
        response = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced))
        jobs.append(response.json()["meta"]["job_id"])
        _status(stack, jobs[-1])

    def mine() -> list[dict[str, Any]]:
        return [e for e in receiver.of("WRITE_OPERATION_SUCCESS") if e["root_job_id"] in jobs]

    wait_for(lambda: len(mine()) >= 3, timeout=30)
    events = mine()
    assert [e["root_job_id"] for e in events] == jobs  # in order, though the first failed twice
    assert all(e["write_status"] == "SUCCESS" and e["vendor"] == "RESMAN" for e in events)
    # Recorded only after `verify` accepted both signatures (see examples/webhook_receiver.py).
    headers = [h for h, e in receiver.events if e.get("root_job_id") in jobs]
    assert len({h["webhook-id"] for h in headers}) == 3
    assert all(h["propexo-signature"] and h["webhook-signature"].startswith("v1,") for h in headers)

    def recorded() -> list[dict[str, Any]]:
        # Attempts are recorded in groups, just after they are sent: wait for the record.
        found = stack.http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["results"]
        return found if all(d["state"] == "delivered" for d in found) else []

    deliveries = {"results": wait_for(recorded, timeout=30)}
    first = next(d for d in deliveries["results"] if d["payload"]["root_job_id"] == jobs[0])
    assert first["state"] == "delivered" and first["attempts"] == 3
    assert [a["status_code"] for a in first["attempt_log"]] == [500, 500, 204]
    assert all(a["latency_ms"] >= 0 for a in first["attempt_log"])
    again = stack.http.post(f"/v1/webhooks/{hook['id']}/deliveries/{first['id']}/redeliver")
    assert again.status_code == 200
    wait_for(lambda: len(mine()) >= 4, timeout=30)
    assert [h for h, e in receiver.events if e.get("root_job_id") in jobs][-1]["webhook-id"] == (
        first["id"]
    )
    stack.http.delete(f"/v1/webhooks/{hook['id']}")


def test_signature_checks_fail_for_a_wrong_secret(
    stack: LiveStack, synced: dict[str, Any], receiver: Receiver
) -> None:
    hook = _hook(stack, receiver, triggers=["WRITE_OPERATION_SUCCESS"])
    receiver.use("not-the-secret-at-all")  # every delivery now fails verification: 401
    job = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()
    _status(stack, job["meta"]["job_id"])

    def failed_twice() -> bool:
        # Other tests' writes may end meanwhile and queue behind this one: any delivery will do.
        found = stack.http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["results"]
        return any(d["attempts"] >= 2 for d in found)

    wait_for(failed_twice, timeout=30)
    assert receiver.of("WRITE_OPERATION_SUCCESS") == []
    stack.http.put(f"/v1/webhooks/{hook['id']}", json={"active": False})
    wait_for(
        lambda: all(
            d["state"] == "cancelled"
            for d in stack.http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["results"]
        ),
        timeout=30,
    )
    stack.http.delete(f"/v1/webhooks/{hook['id']}")


def test_sync_events_and_data_changes(
    stack: LiveStack, synced: dict[str, Any], receiver: Receiver
) -> None:
    hook = _hook(
        stack,
        receiver,
        triggers=["DATA_NEW", "DATA_UPDATE", "SYNC_COMPLETE", "FIRST_SYNC_COMPLETE"],
        model="resident_charges",
    )
    integration_id = synced["integration"]["id"]
    lease = stack.http.get(
        "/v1/leases/", params={"integration_id": integration_id, "status_normalized": "ACTIVE"}
    ).json()["results"][0]
    posted = stack.sandbox.post(
        "/_sandbox/ledger/transactions",
        json={
            "lease_id": lease["x_id"],
            "charge_code": "UTIL",
            "amount": "21.00",
            "date": stack.clock.today().isoformat(),
        },
    ).json()
    stamp = stack.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with stack.sandbox_store.transaction() as db:
        # The lease's latest charge: one the first sync has seen, inside ResMan's window.
        changed_id = db.execute(
            "SELECT transaction_id FROM transactions WHERE lease_id = ? AND transaction_id != ? "
            "AND type = 'Charge' ORDER BY date DESC, transaction_id LIMIT 1",
            (lease["x_id"], posted["transaction_id"]),
        ).fetchone()[0]
        db.execute(
            "UPDATE transactions SET description = 'Corrected', modified_at = ? "
            "WHERE transaction_id = ?",
            (stamp, changed_id),
        )
        db.execute("UPDATE leases SET last_modified = ? WHERE lease_id = ?", (stamp, lease["x_id"]))
    stack.sync(integration_id)
    wait_for(lambda: receiver.of("SYNC_COMPLETE"), timeout=30)
    wait_for(lambda: receiver.of("DATA_UPDATE"), timeout=30)
    [new] = [e for e in receiver.of("DATA_NEW") if e["payload"]["x_id"] == posted["transaction_id"]]
    assert new["object"] == "resident_charges" and new["payload"]["amount_in_cents"] == 2100
    assert new["record_id"] == new["payload"]["id"]
    [update] = [e for e in receiver.of("DATA_UPDATE")]
    assert update["diff"] == {
        "previous": {"description": update["diff"]["previous"]["description"]},
        "new": {"description": "Corrected"},
    }
    assert receiver.of("FIRST_SYNC_COMPLETE") == []
    sync_event = receiver.of("SYNC_COMPLETE")[-1]
    assert sync_event["integration_id"] == integration_id and sync_event["is_sync_finished"]
    stack.http.delete(f"/v1/webhooks/{hook['id']}")


def test_no_data_events_during_a_first_sync(stack: LiveStack, receiver: Receiver) -> None:
    hook = _hook(stack, receiver, triggers=["DATA_NEW", "FIRST_SYNC_COMPLETE"])
    integration = stack.create_integration()
    stack.sync(integration["id"])
    wait_for(lambda: receiver.of("FIRST_SYNC_COMPLETE"), timeout=30)
    assert receiver.of("DATA_NEW") == []
    stack.http.delete(f"/v1/webhooks/{hook['id']}")
    stack.http.delete(f"/v1/admin/integrations/{integration['id']}/")


def test_the_receiver_example_checks_both_signatures() -> None:
    body = b'{"event":"DATA_NEW"}'
    for secret in ("whsec_" + "a" * 43 + "=", "plain-secret-1"):
        now = int(datetime.now(UTC).timestamp())
        headers = signed_headers(secret, "msg_1", now, body)
        assert verify(secret, headers, body)
        assert not verify(secret, headers, body + b" ")
        assert not verify("another-secret", headers, body)
        assert not verify(secret, {**headers, "webhook-timestamp": str(now - 3600)}, body)
        assert not verify(secret, {**headers, "webhook-id": "msg_2"}, body)


def test_deliveries_survive_a_restart(own_database: str, tmp_path: Path) -> None:
    """Events whose endpoint was down are delivered, once each, by the next process."""
    port = free_port()
    key = generate_key_text()
    first = LiveStack(own_database, tmp_path / "data", SeedSize(1, 4, 1), key)
    try:
        integration = first.create_integration()
        first.sync(integration["id"])
        created = first.http.post(
            "/v1/webhooks/",
            json={
                "url": f"http://127.0.0.1:{port}/hook",
                "triggers": ["WRITE_OPERATION_SUCCESS"],
                "active": True,
            },
        ).json()["result"]
        residents = first.http.get("/v1/residents/").json()["results"]
        codes = first.http.get("/v1/charge-codes/", params={"limit": 250}).json()["results"]
        synced = {"integration": integration, "residents": residents, "charge_codes": codes}
        jobs = [
            first.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()["meta"][
                "job_id"
            ]
            for _ in range(5)
        ]
        for job_id in jobs:
            _status(first, job_id)
        pending = first.http.get(f"/v1/webhooks/{created['id']}/deliveries").json()["results"]
        assert len(pending) == 5 and {d["state"] for d in pending} == {"pending"}
    finally:
        first.close()
    receiver = Receiver(port)
    receiver.use(created["secret"])
    second = LiveStack(
        own_database, tmp_path / "data", SeedSize(1, 4, 1), key, now=first.clock.now()
    )
    try:
        wait_for(lambda: len(receiver.of("WRITE_OPERATION_SUCCESS")) >= 5, timeout=30)
        time.sleep(0.5)  # nothing more may come
        events = receiver.of("WRITE_OPERATION_SUCCESS")
        assert sorted(e["root_job_id"] for e in events) == sorted(jobs)
        # The writes ran concurrently; their events are delivered in the order they happened.
        order = [e["webhook_event_id"] for e in events]
        assert order == sorted(order)
        assert len({h["webhook-id"] for h, _ in receiver.events}) == 5
    finally:
        second.close()
        receiver.server.shutdown()


def test_failures_and_reconciliations_are_reported(
    stack: LiveStack, synced: dict[str, Any], receiver: Receiver
) -> None:
    hook = _hook(
        stack, receiver, triggers=["WRITE_OPERATION_FAILURE", "WRITE_RECONCILED", "JOB_FAILURE"]
    )
    integration_id = synced["integration"]["id"]
    # A charge ResMan refuses: WRITE_OPERATION_FAILURE with its errors.
    with _charge_code_unknown_to_resman(stack, "PETF"):
        refused = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()
        refused_job = refused["meta"]["job_id"]
        assert _status(stack, refused_job)["write_status"] == "FAILURE"
    [failure] = wait_for(
        lambda: _of_job(receiver, "WRITE_OPERATION_FAILURE", refused_job), timeout=30
    )
    assert failure["root_job_id"] == refused_job and failure["write_status"] == "FAILURE"
    assert "ChargeCode PETF" in failure["errors"][0] and failure["integration_id"] == integration_id
    # A charge approved and found by a sync: WRITE_RECONCILED with the record it became.
    body = _charge(synced)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    _status(stack, job_id)
    [item] = _pending(stack, body["reference_number"])
    stack.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/approve", json={})
    stack.sync(integration_id)
    [reconciled] = wait_for(lambda: _of_job(receiver, "WRITE_RECONCILED", job_id), timeout=30)
    status = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    assert reconciled["root_job_id"] == job_id
    assert reconciled["posted"] == [
        {"reference_number": body["reference_number"], "record_id": status["created_record_id"]}
    ]
    # A sync that cannot succeed (ResMan refuses the credentials): JOB_FAILURE.
    broken = stack.create_integration(
        credentials={**stack.credentials(), "apiKey": "not-the-key-0123456789abcdef0123"}
    )
    assert stack.sync(broken["id"])["state"] == "failed"
    [job_failure] = wait_for(
        lambda: [e for e in receiver.of("JOB_FAILURE") if e["integration_id"] == broken["id"]],
        timeout=30,
    )
    assert job_failure["integration_id"] == broken["id"] and job_failure["job_type"] == "SYNC"
    stack.http.delete(f"/v1/webhooks/{hook['id']}")
