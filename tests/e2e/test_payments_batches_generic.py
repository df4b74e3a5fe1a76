"""Payments, batches of charges, the generic write routes, retries and write logs, end to end."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_seed_path import _charge, _pending
from tests.support import LiveStack, assert_matches_openapi, list_all


def _payment(synced: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = _charge(synced)
    del body["charge_code_id"]
    body.update(payment_type="Money Order", description="Rent payment", notes="front desk")
    body.update(overrides)
    return body


def _batch(synced: dict[str, Any], size: int, code: str = "PETF") -> dict[str, Any]:
    first = next(r for r in synced["residents"] if r["x_lease_id"])
    residents = [
        r
        for r in synced["residents"]
        if r["x_lease_id"] and r["property_id"] == first["property_id"]
    ]
    codes = {
        c["code"]: c["id"]
        for c in synced["charge_codes"]
        if c["property_id"] == first["property_id"]
    }
    batch_id = f"batch-{uuid.uuid4().hex[:8]}"
    charges = [
        {
            "resident_id": residents[i % len(residents)]["id"],
            "charge_code_id": codes[code],
            "batch_id": batch_id,
            "transaction_date": "2026-11-05T09:00:00Z",
            "description": f"Charge {i}",
            "notes": "batch",
            "amount_in_cents": 1000 + i,
            "reference_number": f"B-{uuid.uuid4().hex[:10]}",
        }
        for i in range(size)
    ]
    return {"integration_id": synced["integration"]["id"], "charges": charges}


@contextmanager
def _charge_code_unknown_to_resman(stack: LiveStack, code: str) -> Iterator[None]:
    """ResMan renames a charge code behind our back (our synced copy still has the old one)."""
    with stack.sandbox_store.transaction() as db:
        db.execute(
            "UPDATE categories SET abbreviation = ? WHERE abbreviation = ?", ("X" + code, code)
        )
    try:
        yield
    finally:
        with stack.sandbox_store.transaction() as db:
            db.execute(
                "UPDATE categories SET abbreviation = ? WHERE abbreviation = ?", (code, "X" + code)
            )


def test_payment_reaches_the_ledger_and_is_reconciled(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _payment(synced)
    response = stack.http.post("/v1/resident-payments/resman/", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["result"] == body
    job_id = response.json()["meta"]["job_id"]
    assert _status(stack, job_id)["write_status"] == "SUCCESS"
    [item] = _pending(stack, body["reference_number"])
    resident = next(r for r in synced["residents"] if r["id"] == body["resident_id"])
    assert item["kind"] == "payment" and item["payment_type"] == "Money Order"
    assert item["paid_by"] == f"{resident['first_name']} {resident['last_name']}"
    assert item["amount"] == "75.00"
    stack.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/approve", json={})
    stack.sync(body["integration_id"])
    lease = stack.http.get(
        "/v1/leases/",
        params={"x_id": resident["x_lease_id"], "integration_id": body["integration_id"]},
    ).json()["results"][0]
    # The ledger is the lease's: the payment shows under the account holder, maybe another person.
    [payment] = [
        p
        for p in list_all(stack, "/v1/resident-payments/", lease_id=lease["id"])
        if p["reference_number"] == body["reference_number"]
    ]
    assert payment["amount_in_cents"] == 7500
    assert payment["payment_method_raw"] == payment["payment_method_normalized"] == "Money Order"
    status = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    assert status["created_record_id"] == payment["id"]
    assert status["items"][0]["status"] == "POSTED"


@pytest.mark.parametrize(
    "change",
    [{"payment_type": "Bitcoin"}, {"payment_type": None}, {"charge_code_id": "x"}, {"notes": ""}],
)
def test_payment_validation(
    stack: LiveStack, synced: dict[str, Any], change: dict[str, Any]
) -> None:
    body = {**_payment(synced), **change}
    response = stack.http.post("/v1/resident-payments/resman/", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["issues"]


def test_batch_is_one_job_and_one_document(stack: LiveStack, synced: dict[str, Any]) -> None:
    body = _batch(synced, 25)
    response = stack.http.post("/v1/resident-charges/batch/resman/", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["result"] == body
    status = _status(stack, response.json()["meta"]["job_id"])
    assert status["write_status"] == "SUCCESS", status
    assert [i["index"] for i in status["items"]] == list(range(25))
    assert {i["status"] for i in status["items"]} == {"ACCEPTED"}
    pending = [
        p
        for p in stack.sandbox.get("/_sandbox/partner-transactions").json()["results"]
        if p["batch_id"] == body["charges"][0]["batch_id"]
    ]
    # One document: all 25 arrived together, as one partner file.
    assert len(pending) == 25 and len({p["file_id"] for p in pending}) == 1
    assert sorted(p["amount"] for p in pending) == [f"{10 + i / 100:.2f}" for i in range(25)]


def test_batch_rejected_by_resman_names_the_charge_that_caused_it(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _batch(synced, 4)
    bad = _batch(synced, 1, code="PARK")["charges"][0]
    body["charges"][2] = {**bad, "batch_id": body["charges"][0]["batch_id"]}
    with _charge_code_unknown_to_resman(stack, "PARK"):
        response = stack.http.post("/v1/resident-charges/batch/resman/", json=body)
        status = _status(stack, response.json()["meta"]["job_id"])
    assert status["write_status"] == "FAILURE"
    items = status["items"]
    assert {i["status"] for i in items} == {"REJECTED"}
    assert "ChargeCode PARK" in items[2]["error"]
    assert all("other transactions" in i["error"] for i in items if i["index"] != 2)
    assert not _pending(stack, body["charges"][0]["reference_number"])
    # A failed write can be retried once the cause is gone; the retry is a new job.
    retried = stack.http.post(f"/v1/admin/retry-write/{response.json()['meta']['job_id']}", json={})
    assert retried.status_code == 200, retried.text
    assert_matches_openapi("/v1/admin/retry-write/{root_job_id}", "post", retried.json())
    assert retried.json()["success"] is True
    assert _status(stack, retried.json()["job_id"])["write_status"] == "SUCCESS"
    assert len(_pending(stack, body["charges"][2]["reference_number"])) == 1
    # Retrying again while the retry stands answers with it: nothing is sent twice.
    again = stack.http.post(f"/v1/admin/retry-write/{retried.json()['job_id']}", json={})
    assert again.status_code == 200 and again.json()["job_id"] == retried.json()["job_id"]
    assert stack.http.post("/v1/admin/retry-write/no-such-job", json={}).status_code == 404


def test_batch_limits_and_one_property(stack: LiveStack, synced: dict[str, Any]) -> None:
    empty = {"integration_id": synced["integration"]["id"], "charges": []}
    assert stack.http.post("/v1/resident-charges/batch/resman/", json=empty).status_code == 400
    big = _batch(synced, 1001)
    assert stack.http.post("/v1/resident-charges/batch/resman/", json=big).status_code == 400
    body = _batch(synced, 3)
    first_property = next(
        r["property_id"]
        for r in synced["residents"]
        if r["id"] == body["charges"][0]["resident_id"]
    )
    other = next(
        r for r in synced["residents"] if r["x_lease_id"] and r["property_id"] != first_property
    )
    code = next(
        c["id"]
        for c in synced["charge_codes"]
        if c["property_id"] == other["property_id"] and c["code"] == "PETF"
    )
    body["charges"][1].update(resident_id=other["id"], charge_code_id=code)
    body["charges"][2]["reference_number"] = body["charges"][0]["reference_number"]
    response = stack.http.post("/v1/resident-charges/batch/resman/", json=body)
    assert response.status_code == 400
    paths = [i["path"] for i in response.json()["error"]["details"]["issues"]]
    assert ["charges", 1, "resident_id"] in paths
    assert ["charges", 2, "reference_number"] in paths


def test_generic_routes_apply_the_vendor_rules(stack: LiveStack, synced: dict[str, Any]) -> None:
    charge = _charge(synced)
    response = stack.http.post("/v1/resident-charges/", json=charge)
    assert response.status_code == 200, response.text
    assert_matches_openapi("/v1/resident-charges/", "post", response.json())
    assert response.json()["data"] == charge
    assert _status(stack, response.json()["job_id"])["write_status"] == "SUCCESS"

    extra = {**_charge(synced), "lease_id": "l-1", "post_month": "2026-11-01"}
    refused = stack.http.post("/v1/resident-charges/", json=extra)
    assert refused.status_code == 400
    assert {tuple(i["path"]) for i in refused.json()["error"]["details"]["issues"]} == {
        ("lease_id",),
        ("post_month",),
    }
    dropped = stack.http.post(
        "/v1/resident-charges/", params={"ignore_unknown_fields": "true"}, json=extra
    )
    assert dropped.status_code == 200, dropped.text
    assert "lease_id" not in dropped.json()["data"]

    payment = _payment(synced)
    paid = stack.http.post("/v1/resident-payments/", json=payment)
    assert paid.status_code == 200 and paid.json()["data"] == payment
    assert_matches_openapi("/v1/resident-payments/", "post", paid.json())
    missing = {k: v for k, v in _payment(synced).items() if k != "payment_type"}
    assert stack.http.post("/v1/resident-payments/", json=missing).status_code == 400
    for bad in (b"[1]", b"nope", b'{"amount_in_cents": 5}'):
        answer = stack.http.post(
            "/v1/resident-charges/", content=bad, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400 and "error" in answer.json()
    unknown = stack.http.post("/v1/resident-charges/", json={**charge, "integration_id": "nope"})
    assert unknown.status_code == 400


def test_write_logs(stack: LiveStack, synced: dict[str, Any]) -> None:
    body = _payment(synced)
    job_id = stack.http.post("/v1/resident-payments/resman/", json=body).json()["meta"]["job_id"]
    _status(stack, job_id)
    logs = stack.http.get(
        "/v1/admin/logs/writes/", params={"write_category": "resident_payments", "limit": 100}
    )
    assert logs.status_code == 200, logs.text
    assert_matches_openapi("/v1/admin/logs/writes/", "get", logs.json())
    [entry] = [log for log in logs.json()["results"]["logs"] if log["job_id"] == job_id]
    assert entry["status"] == "SUCCESS" and entry["parameters"] == body
    assert entry["vendor"] == "RESMAN" and entry["error"] is None
    failures = stack.http.get("/v1/admin/logs/writes/", params={"status": "FAILURE"}).json()
    assert all(log["status"] == "FAILURE" and log["error"] for log in failures["results"]["logs"])
    for params in ({"status": "MAYBE"}, {"limit": "101"}, {"time_range": "year"}):
        assert stack.http.get("/v1/admin/logs/writes/", params=params).status_code == 400
