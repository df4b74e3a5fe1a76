"""Resident charges and payments from the ledger, and writes reconciled when a sync finds them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.e2e.test_seed_path import _charge, _pending
from tests.support import (
    LiveStack,
    assert_matches_openapi,
    lease_balances,
    list_all,
    wait_for,
)


def _status(stack: LiveStack, job_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (s := stack.http.get(f"/v1/admin/write-status/{job_id}").json())["write_status"]
            != "PENDING"
            and s
        )
    )


def test_ledger_endpoints_match_schema(stack: LiveStack, synced: dict[str, Any]) -> None:
    integration_id = synced["integration"]["id"]
    for path, by_id in (
        ("/v1/resident-charges/", "/v1/resident-charges/{resident_charge_id}"),
        ("/v1/resident-payments/", "/v1/resident-payments/{resident_payment_id}"),
    ):
        listing = stack.http.get(path, params={"integration_id": integration_id, "limit": 50})
        assert listing.status_code == 200 and listing.json()["results"]
        assert_matches_openapi(path, "get", listing.json())
        one = stack.http.get(f"{path}{listing.json()['results'][0]['id']}")
        assert_matches_openapi(by_id, "get", one.json())


def test_balances_match_the_sandbox_ledger_to_the_cent(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    # Other tests post to this integration and approve in the sandbox: compare after a sync of
    # our own, not at whatever point the shared integration was last synced.
    assert stack.sync(integration_id)["state"] == "succeeded"
    ours, theirs = lease_balances(stack, integration_id)
    assert ours == theirs
    charges = list_all(stack, "/v1/resident-charges/", integration_id=integration_id)
    payments = list_all(stack, "/v1/resident-payments/", integration_id=integration_id)
    assert all(c["lease_id"] and c["charge_code_id"] for c in charges if c["x_lease_id"])
    assert all(c["charge_code_id"] for c in charges)
    assert any(c["amount_in_cents"] < 0 for c in charges), "credits are negative charges"
    assert all(p["payment_method_raw"] for p in payments)


def test_ledger_filters(stack: LiveStack, synced: dict[str, Any]) -> None:
    integration_id = synced["integration"]["id"]
    charges = list_all(stack, "/v1/resident-charges/", integration_id=integration_id)
    lease_id = charges[0]["lease_id"]
    by_lease = list_all(stack, "/v1/resident-charges/", lease_id=lease_id)
    assert by_lease and {c["lease_id"] for c in by_lease} == {lease_id}
    assert len(by_lease) == sum(c["lease_id"] == lease_id for c in charges)
    day = sorted(c["transaction_date"] for c in charges)[len(charges) // 2]
    ranged = list_all(
        stack,
        "/v1/resident-charges/",
        integration_id=integration_id,
        transaction_date_start=day,
        transaction_date_end=f"{day}T23:59:59Z",
    )
    assert ranged and {c["transaction_date"] for c in ranged} == {day}
    assert len(ranged) == sum(c["transaction_date"] == day for c in charges)
    bad = stack.http.get("/v1/resident-charges/", params={"transaction_date_start": "nope"})
    assert bad.status_code == 400


def test_approved_charge_is_reconciled_to_its_write(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _charge(synced, amount_in_cents=4321)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    assert _status(stack, job_id)["write_status"] == "SUCCESS"
    [item] = _pending(stack, body["reference_number"])
    approved = stack.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/approve").json()
    assert stack.sync(synced["integration"]["id"])["state"] == "succeeded"
    status = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    assert status["write_status"] == "SUCCESS"
    assert status["items"][0]["status"] == "POSTED"
    record = stack.http.get(f"/v1/resident-charges/{status['created_record_id']}").json()["results"]
    assert record["reference_number"] == body["reference_number"]
    assert record["amount_in_cents"] == 4321 and record["x_id"] == approved["transaction_id"]


def test_rejected_charge_never_reconciles(stack: LiveStack, synced: dict[str, Any]) -> None:
    body = _charge(synced, amount_in_cents=1234)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    _status(stack, job_id)
    [item] = _pending(stack, body["reference_number"])
    stack.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/reject")
    stack.sync(synced["integration"]["id"])
    status = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    assert status["items"][0]["status"] == "ACCEPTED" and status["created_record_id"] is None


@contextmanager
def answers_lost(stack: LiveStack) -> Iterator[None]:
    """ResMan stores every post and the connection drops before its answer (the sandbox's
    fault switch): the write's outcome is unknown, though the charge waits for approval."""
    stack.writes_settled()
    stack.sandbox.post("/_sandbox/faults", json={"drop_connection": 1, "only_posts": True})
    try:
        yield
    finally:
        stack.sandbox.post("/_sandbox/faults", json={})


def test_outcome_unknown_write_turns_success_when_found(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    with answers_lost(stack):
        body = _charge(synced, amount_in_cents=777)
        job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
        status = _status(stack, job_id)
    assert status["write_status"] == "FAILURE"
    assert status["items"][0]["status"] == "OUTCOME_UNKNOWN"
    [log] = _logs(stack, job_id)
    assert log["status"] == "FAILURE"
    [item] = _pending(stack, body["reference_number"])
    stack.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/approve")
    stack.sync(integration_id)
    status = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    assert status["write_status"] == "SUCCESS" and status["errors"] == []
    assert status["items"][0]["status"] == "POSTED" and status["created_record_id"]
    assert status["items"][0]["posted_at"] and status["items"][0]["accepted_at"] is None
    # The write logs say what it became, not what its job said before the sync found it.
    [log] = _logs(stack, job_id)
    assert (log["status"], log["error"], log["item_statuses"]) == ("SUCCESS", None, {"POSTED": 1})


def _logs(stack: LiveStack, job_id: str, **params: Any) -> list[dict[str, Any]]:
    """The write-log entries of one job (filtered as asked)."""
    page = stack.http.get("/v1/admin/logs/writes/", params={"limit": 100, **params})
    assert page.status_code == 200, page.text
    return [log for log in page.json()["results"]["logs"] if log["job_id"] == job_id]


def test_fee_schedule_is_synced_with_its_charge_codes(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    fees = list_all(stack, "/v1/fees/", integration_id=integration_id)
    assert_matches_openapi(
        "/v1/fees/",
        "get",
        stack.http.get("/v1/fees/", params={"integration_id": integration_id}).json(),
    )
    names = {(f["name"], f["x_floor_plan_id"]) for f in fees}
    assert ("Application Fee", None) in names and ("Administrative Fee", "B1") in names
    assert all(f["charge_code_id"] and f["amount_in_cents"] > 0 for f in fees)
    one = stack.http.get(f"/v1/fees/{fees[0]['id']}").json()
    assert_matches_openapi("/v1/fees/{fee_id}", "get", one)
    by_code = list_all(stack, "/v1/fees/", charge_code_id=fees[0]["charge_code_id"])
    assert {f["charge_code_id"] for f in by_code} == {fees[0]["charge_code_id"]}
    assert list_all(stack, "/v1/fees/", unit_id="anything") == []


def test_sandbox_recurring_charges(stack: LiveStack, synced: dict[str, Any]) -> None:
    import base64

    config = stack.sandbox_config
    headers = {
        "Authorization": "Basic "
        + base64.b64encode(f"{config.partner_id}:{config.api_key}".encode()).decode(),
        "ResMan-Account-Id": config.account_id,
    }
    prop = stack.http.get(
        "/v1/properties/", params={"integration_id": synced["integration"]["id"]}
    ).json()["results"][0]
    leases = stack.sandbox.get(
        "/Leasing/RecurringCharges", headers=headers, params={"propertyId": prop["x_id"]}
    ).json()["leases"]
    assert leases and all(lease["recurringCharges"] for lease in leases)
    assert any(c["description"] == "Rent" for lease in leases for c in lease["recurringCharges"])


def test_new_ledger_entry_appears_after_the_next_sync(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    lease = stack.http.get(
        "/v1/leases/", params={"integration_id": integration_id, "status_normalized": "ACTIVE"}
    ).json()["results"][0]
    posted = stack.sandbox.post(
        "/_sandbox/ledger/transactions",
        json={
            "lease_id": lease["x_id"],
            "charge_code": "LATE",
            "amount": "12.34",
            "date": "2026-11-20",
            "description": "Late fee (staff)",
        },
    )
    assert posted.status_code == 200, posted.text
    x_id = posted.json()["transaction_id"]
    before = list_all(stack, "/v1/resident-charges/", lease_id=lease["id"])
    assert x_id not in {c["x_id"] for c in before}
    stack.sync(integration_id)
    after = list_all(stack, "/v1/resident-charges/", lease_id=lease["id"])
    [found] = [c for c in after if c["x_id"] == x_id]
    assert found["amount_in_cents"] == 1234 and found["transaction_date"] == "2026-11-20"
    assert found["description"] == "Late fee (staff)" and found["lease_id"] == lease["id"]
    unchanged = {c["id"]: c["updated_at"] for c in before}
    assert {c["id"]: c["updated_at"] for c in after if c["id"] in unchanged} == unchanged
    assert (
        stack.sandbox.post("/_sandbox/ledger/transactions", json={"lease_id": "x"}).status_code
        == 400
    )
