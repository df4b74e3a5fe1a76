"""A full sync on live ResMan's shapes fills what a client needs: charge codes of each category
type, `x_charge_code_id`, payment methods, floor plans, lease dates and rent, resident roles;
reversed payments are neither counted nor left looking live."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from propbridge.sandbox.resman.seed import SeedSize
from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack, assert_matches_openapi, lease_balances, list_all, wait_for


def test_charge_codes_of_every_category_type_and_a_filter(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    codes = list_all(stack, "/v1/charge-codes/", integration_id=integration_id)
    assert {c["category_type"] for c in codes} == {"Charge", "Credit", "Payment", "Deposit"}
    charges = list_all(
        stack, "/v1/charge-codes/", integration_id=integration_id, category_type="Charge"
    )
    assert charges and {c["category_type"] for c in charges} == {"Charge"}
    assert len(charges) == sum(c["category_type"] == "Charge" for c in codes)
    both = list_all(
        stack, "/v1/charge-codes/", integration_id=integration_id, category_type="Charge,Credit"
    )
    assert {c["category_type"] for c in both} == {"Charge", "Credit"}
    bad = stack.http.get("/v1/charge-codes/", params={"category_type": "Rent"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["issues"]
    assert_matches_openapi("/v1/charge-codes/", "get", stack.http.get("/v1/charge-codes/").json())


def test_a_credit_category_cannot_be_charged(stack: LiveStack, synced: dict[str, Any]) -> None:
    resident = next(r for r in synced["residents"] if r["x_lease_id"])
    credit = next(
        c
        for c in synced["charge_codes"]
        if c["category_type"] == "Credit" and c["property_id"] == resident["property_id"]
    )
    body = _charge(synced, resident_id=resident["id"], charge_code_id=credit["id"])
    refused = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert refused.status_code == 400
    [problem] = refused.json()["error"]["details"]["issues"]
    assert problem["path"] == ["charge_code_id"] and "Credit" in problem["message"]


def test_ledger_records_carry_codes_methods_and_links(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    charges = list_all(stack, "/v1/resident-charges/", integration_id=integration_id)
    payments = list_all(stack, "/v1/resident-payments/", integration_id=integration_id)
    assert all(r["x_charge_code_id"] and r["charge_code_id"] for r in charges + payments)
    assert all(p["payment_method_raw"] for p in payments)
    assert {p["payment_method_normalized"] for p in payments} <= {
        "ACH",
        "Cash",
        "Cashiers Check",
        "Check",
        "Credit Card",
        "Debit Card",
        "eCheck",
        "Money Order",
    }
    assert all(r["reversed_date"] is None for r in charges + payments)
    # Someone billed without a lease: their transactions are there, with no lease.
    assert any(r["x_lease_id"] is None for r in charges)


def test_floor_plans_units_and_leases_are_filled(stack: LiveStack, synced: dict[str, Any]) -> None:
    integration_id = synced["integration"]["id"]
    plans = list_all(stack, "/v1/floor-plans/", integration_id=integration_id)
    for plan in plans:
        assert plan["bedrooms"] and plan["bathrooms"] and plan["rentable_square_feet"]
        assert 0 < plan["rent_minimum_in_cents"] <= plan["rent_maximum_in_cents"]
        assert plan["image_urls"]
    units = list_all(stack, "/v1/units/", integration_id=integration_id)
    assert all(u["x_unit_type_id"] and u["bedrooms"] and u["floor_plan_id"] for u in units)
    leases = list_all(stack, "/v1/leases/", integration_id=integration_id)
    active = [lease for lease in leases if lease["status_normalized"] == "ACTIVE"]
    assert active and all(
        lease["rent_amount_in_cents"] and lease["application_date"] and lease["unit_id"]
        for lease in active
    )
    assert {lease["status_raw"] for lease in leases} >= {"Current", "Former"}
    residents = list_all(stack, "/v1/residents/", integration_id=integration_id)
    roles = {
        link["resident_type_normalized"]
        for resident in residents
        for link in resident["leases_meta_data"]
    }
    assert roles >= {"PRIMARY", "SECONDARY", "GUARANTOR"}


def test_a_bounced_payment_is_marked_and_no_longer_counted(
    own_database: str, tmp_path: Path
) -> None:
    live = LiveStack(own_database, tmp_path / "d", SeedSize(1, 12, 11))
    try:
        integration = live.create_integration()
        assert live.sync(integration["id"])["state"] == "succeeded"
        ours, theirs = lease_balances(live, integration["id"])
        assert ours == theirs
        # Payments the seed bounced are already marked and left out of the lists.
        reversed_ = list_all(
            live,
            "/v1/resident-payments/",
            integration_id=integration["id"],
            include_reversed="true",
        )
        assert all(
            p["reversed_date"] is None or p["reversed_date"] >= p["transaction_date"]
            for p in reversed_
        )
        payments = list_all(live, "/v1/resident-payments/", integration_id=integration["id"])
        live_one = next(p for p in payments if p["x_lease_id"])
        bounced = live.sandbox.post(
            f"/_sandbox/ledger/transactions/{live_one['x_id']}/reverse", json={"reason": "NSF"}
        )
        assert bounced.status_code == 200, bounced.text
        assert live.sync(integration["id"])["state"] == "succeeded"
        after = list_all(live, "/v1/resident-payments/", integration_id=integration["id"])
        assert live_one["id"] not in {p["id"] for p in after}
        marked = live.http.get(f"/v1/resident-payments/{live_one['id']}").json()["results"]
        assert marked["reversed_date"] == live.clock.today().isoformat()
        assert marked["amount_in_cents"] == live_one["amount_in_cents"]
        ours, theirs = lease_balances(live, integration["id"])
        assert ours == theirs
        every = list_all(
            live,
            "/v1/resident-payments/",
            integration_id=integration["id"],
            include_reversed="true",
        )
        assert len(every) == len(after) + sum(p["reversed_date"] is not None for p in every)
    finally:
        live.close()


def test_an_approved_payment_syncs_back_with_its_method(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    resident = next(r for r in synced["residents"] if r["x_lease_id"])
    reference = f"PAY-{uuid.uuid4().hex[:8]}"
    body = {
        "integration_id": synced["integration"]["id"],
        "resident_id": resident["id"],
        "payment_type": "Money Order",
        "batch_id": "methods",
        "transaction_date": f"{stack.clock.today().isoformat()}T09:00:00Z",
        "description": "Money order",
        "notes": "from the tests",
        "amount_in_cents": 9900,
        "reference_number": reference,
    }
    job_id = stack.http.post("/v1/resident-payments/resman/", json=body).json()["meta"]["job_id"]
    wait_for(
        lambda: (
            stack.http.get(f"/v1/admin/write-status/{job_id}").json()["write_status"] == "SUCCESS"
        )
    )
    [item] = [
        i
        for i in stack.sandbox.get("/_sandbox/partner-transactions").json()["results"]
        if i["reference"] == reference
    ]
    stack.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/approve")
    assert stack.sync(synced["integration"]["id"])["state"] == "succeeded"
    status = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    payment = stack.http.get(f"/v1/resident-payments/{status['created_record_id']}").json()
    assert payment["results"]["payment_method_raw"] == "Money Order"
    assert payment["results"]["payment_method_normalized"] == "Money Order"
    assert payment["results"]["reference_number"] == reference
