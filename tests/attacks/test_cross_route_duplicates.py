"""A reference names one transaction whatever route sends it: the single vendor route, the
batch, the generic route, a payment. Once a write used `(integration, batch_id, reference)`,
another write reusing it is refused with the first one's job, and ResMan never sees it twice.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx
from sqlalchemy import update

from propbridge.writes.models import WriteReference
from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack


def _sent(stack: LiveStack, reference: str) -> int:
    """How many transactions with this reference ResMan's sandbox holds (any state)."""
    stack.writes_settled()
    held = stack.sandbox.get("/_sandbox/partner-transactions").json()["results"]
    return [item["reference"] for item in held].count(reference)


def race_to_one_write(calls: list[tuple[httpx.Client, str, dict[str, Any]]]) -> None:
    """Post every `(client, path, body)` at once: one write is accepted, the rest refused."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda call: call[0].post(call[1], json=call[2]), calls))
    accepted = {a.json()["meta"]["job_id"] for a in answers if a.status_code == 200}
    assert len(accepted) == 1, [a.text for a in answers]
    assert all(a.status_code in (200, 409) for a in answers), [a.text for a in answers]


def _batch(charge: dict[str, Any], *more: dict[str, Any]) -> dict[str, Any]:
    strip = [{k: v for k, v in c.items() if k != "integration_id"} for c in (charge, *more)]
    return {"integration_id": charge["integration_id"], "charges": strip}


def test_a_single_charges_reference_cannot_be_sent_again_as_a_batch_or_payment(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    charge = _charge(synced)
    first = stack.http.post("/v1/resident-charges/resman/", json=charge)
    assert first.status_code == 200, first.text
    job_id = first.json()["meta"]["job_id"]
    # The same body on the generic route is the same write: replayed.
    generic = stack.http.post("/v1/resident-charges/", json=charge)
    assert generic.status_code == 200 and generic.json()["job_id"] == job_id, generic.text
    others = {
        "batch": ("/v1/resident-charges/batch/resman/", _batch(charge)),
        "batch with another charge": (
            "/v1/resident-charges/batch/resman/",
            _batch(charge, _charge(synced)),
        ),
        "payment": (
            "/v1/resident-payments/resman/",
            {
                **{k: v for k, v in charge.items() if k != "charge_code_id"},
                "payment_type": "Check",
            },
        ),
    }
    for label, (path, body) in others.items():
        # A fresh Idempotency-Key makes it a new request, not a new transaction.
        refused = stack.http.post(path, json=body, headers={"Idempotency-Key": f"k-{label}"})
        assert refused.status_code == 409, (label, refused.text)
        assert refused.json()["error"]["code"] == "duplicate_reference", label
        assert refused.json()["error"]["details"]["job_id"] == job_id, label
    assert _sent(stack, charge["reference_number"]) == 1


def test_a_batchs_references_cannot_be_sent_again_one_by_one(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    charges = [_charge(synced), _charge(synced)]
    batch = stack.http.post("/v1/resident-charges/batch/resman/", json=_batch(*charges))
    assert batch.status_code == 200, batch.text
    job_id = batch.json()["meta"]["job_id"]
    assert (
        stack.http.post("/v1/resident-charges/batch/resman/", json=_batch(*charges)).json()["meta"][
            "job_id"
        ]
        == job_id
    )  # the same batch again: replayed
    for path, body in (
        ("/v1/resident-charges/resman/", charges[0]),
        ("/v1/resident-charges/", charges[1]),
        ("/v1/resident-charges/batch/resman/", _batch(charges[1])),
    ):
        refused = stack.http.post(path, json=body)
        assert refused.status_code == 409, (path, refused.text)
        assert refused.json()["error"]["details"]["job_id"] == job_id
    assert [_sent(stack, c["reference_number"]) for c in charges] == [1, 1]


def test_routes_racing_with_one_reference_send_it_once(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    charge = _charge(synced)
    calls = [(stack.http, "/v1/resident-charges/resman/", charge)] * 4 + [
        (stack.http, "/v1/resident-charges/batch/resman/", _batch(charge))
    ] * 4
    race_to_one_write(calls)
    assert _sent(stack, charge["reference_number"]) == 1


def test_a_retry_never_sends_a_reference_another_chain_holds(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    """After an upgrade, another write can hold a failed write's reference (two routes sent
    it before claims existed; the claim went to the one ResMan did not reject): retrying the
    failed one would send it again, so it is refused with the holder's job."""
    stack.writes_settled()
    stack.sandbox.post("/_sandbox/faults", json={"status_error": 1, "only_posts": True})
    try:
        charge = _charge(synced)
        failed = stack.http.post("/v1/resident-charges/resman/", json=charge).json()["meta"][
            "job_id"
        ]
        assert _status(stack, failed)["write_status"] == "FAILURE"
    finally:
        stack.sandbox.post("/_sandbox/faults", json={})

    async def held_by_another() -> None:
        async with stack.runtime.database.write() as session:
            await session.execute(
                update(WriteReference)
                .where(WriteReference.job_id == failed)
                .values(job_id="a-write-from-before-the-upgrade")
            )

    stack.call(held_by_another())
    refused = stack.http.post(f"/v1/admin/retry-write/{failed}", json={})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["details"]["job_id"] == "a-write-from-before-the-upgrade"
    assert _sent(stack, charge["reference_number"]) == 0
