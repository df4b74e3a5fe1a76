"""The seed path end to end: sync, post a charge, ResMan holds it pending, approval posts it."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support import LiveStack, assert_matches_openapi, wait_for


def _charge(synced: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    resident = next(r for r in synced["residents"] if r["x_lease_id"])
    code = next(
        c
        for c in synced["charge_codes"]
        if c["property_id"] == resident["property_id"] and c["code"] == "PETF"
    )
    body = {
        "integration_id": synced["integration"]["id"],
        "resident_id": resident["id"],
        "charge_code_id": code["id"],
        "batch_id": f"batch-{uuid.uuid4().hex[:8]}",
        "transaction_date": "2026-11-02T10:00:00Z",
        "description": "Pet fee",
        "notes": "from the tests",
        "amount_in_cents": 7500,
        "reference_number": f"REF-{uuid.uuid4().hex[:10]}",
    }
    body.update(overrides)
    return body


def _pending(stack: LiveStack, reference: str) -> list[dict[str, Any]]:
    items = stack.sandbox.get("/_sandbox/partner-transactions").json()["results"]
    return [i for i in items if i["reference"] == reference]


def test_first_sync_brings_in_what_writes_need(stack: LiveStack, synced: dict[str, Any]) -> None:
    info = stack.sandbox.get("/_sandbox/info").json()
    integration_id = synced["integration"]["id"]
    properties = stack.http.get("/v1/properties/", params={"integration_id": integration_id}).json()
    assert properties["meta"]["total"] == info["counts"]["properties"]
    leases = stack.http.get("/v1/leases/", params={"integration_id": integration_id}).json()
    assert leases["meta"]["total"] == info["counts"]["leases"]
    assert len(synced["residents"]) == info["counts"]["people"]
    assert {c["code"] for c in synced["charge_codes"]} >= {"RENT", "PETF", "PARK", "LATE", "UTIL"}


def test_read_endpoints_match_propexo_schema(stack: LiveStack, synced: dict[str, Any]) -> None:
    integration_id = synced["integration"]["id"]
    for path, by_id in (
        ("/v1/properties/", "/v1/properties/{id}"),
        ("/v1/residents/", "/v1/residents/{id}"),
        ("/v1/leases/", "/v1/leases/{lease_id}"),
        ("/v1/charge-codes/", "/v1/charge-codes/{charge_code_id}"),
    ):
        listing = stack.http.get(path, params={"integration_id": integration_id, "limit": 5})
        assert listing.status_code == 200
        assert_matches_openapi(path, "get", listing.json())
        first = listing.json()["results"][0]
        one = stack.http.get(f"{path}{first['id']}")
        assert one.status_code == 200
        assert one.json()["results"]["id"] == first["id"]
        assert_matches_openapi(by_id, "get", one.json())
    integration = stack.http.get(f"/v1/admin/integrations/{integration_id}/")
    assert_matches_openapi("/v1/admin/integrations/{integration_id}/", "get", integration.json())


def test_charge_reaches_partner_transactions_then_the_ledger(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _charge(synced, description='Pet <fee> & "cat" — Zoë', notes="l'été < 5 & > 2")
    response = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["result"] == body
    job_id = response.json()["meta"]["job_id"]
    status = wait_for(
        lambda: (
            (s := stack.http.get(f"/v1/admin/write-status/{job_id}").json())["write_status"]
            != "PENDING"
            and s
        )
    )
    assert_matches_openapi("/v1/admin/write-status/{root_job_id}", "get", status)
    assert status["write_status"] == "SUCCESS", status
    assert status["created_record_id"] is None
    [item] = _pending(stack, body["reference_number"])
    resident = next(r for r in synced["residents"] if r["id"] == body["resident_id"])
    lease = stack.http.get(
        "/v1/leases/",
        params={"x_id": resident["x_lease_id"], "integration_id": body["integration_id"]},
    ).json()
    assert item["status"] == "pending"
    assert item["customer_id"] == resident["x_lease_id"]
    assert item["unit_id"] == lease["results"][0]["unit_number"]
    assert item["charge_code"] == "PETF"
    assert item["amount"] == "75.00"
    assert item["transaction_date"] == "2026-11-02"
    assert item["description"] == body["description"]
    assert item["comment"] == body["notes"]
    assert item["batch_id"] == body["batch_id"]
    ledger_before = stack.sandbox.get("/_sandbox/ledger", params={"lease_id": item["customer_id"]})
    assert body["reference_number"] not in {t["reference"] for t in ledger_before.json()["results"]}
    approved = stack.sandbox.post(
        f"/_sandbox/partner-transactions/{item['id']}/approve", json={"posting_date": "2026-11-03"}
    ).json()
    ledger = stack.sandbox.get("/_sandbox/ledger", params={"lease_id": item["customer_id"]}).json()
    [posted] = [t for t in ledger["results"] if t["reference"] == body["reference_number"]]
    assert posted["transaction_id"] == approved["transaction_id"]
    assert posted["date"] == "2026-11-03"
    assert posted["amount"] == 75.0


def test_same_charge_twice_returns_the_first_job(stack: LiveStack, synced: dict[str, Any]) -> None:
    body = _charge(synced)
    first = stack.http.post("/v1/resident-charges/resman/", json=body)
    second = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert first.status_code == second.status_code == 200
    assert first.json()["meta"]["job_id"] == second.json()["meta"]["job_id"]
    wait_for(
        lambda: (
            stack.http.get(f"/v1/admin/write-status/{first.json()['meta']['job_id']}").json()[
                "write_status"
            ]
            != "PENDING"
        )
    )
    assert len(_pending(stack, body["reference_number"])) == 1


def test_same_reference_with_another_body_conflicts(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _charge(synced)
    assert stack.http.post("/v1/resident-charges/resman/", json=body).status_code == 200
    changed = stack.http.post("/v1/resident-charges/resman/", json={**body, "amount_in_cents": 9})
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "duplicate_reference"


def test_rejected_transaction_never_reaches_the_ledger(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _charge(synced)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    wait_for(
        lambda: (
            stack.http.get(f"/v1/admin/write-status/{job_id}").json()["write_status"] == "SUCCESS"
        )
    )
    [item] = _pending(stack, body["reference_number"])
    assert (
        stack.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/reject").status_code == 200
    )
    ledger = stack.sandbox.get("/_sandbox/ledger", params={"lease_id": item["customer_id"]}).json()
    assert body["reference_number"] not in {t["reference"] for t in ledger["results"]}
    again = stack.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/approve")
    assert again.status_code == 409
