"""`Idempotency-Key`: replays, conflicts, requests in flight, and two at once."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx

from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_payments_batches_generic import _batch
from tests.e2e.test_seed_path import _charge, _pending
from tests.support import LiveStack


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}


def test_same_key_and_body_replays_the_first_response(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    headers, body = _key(), _charge(synced)
    first = stack.http.post("/v1/resident-charges/resman/", json=body, headers=headers)
    again = stack.http.post("/v1/resident-charges/resman/", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _status(stack, first.json()["meta"]["job_id"])["write_status"] == "SUCCESS"
    assert len(_pending(stack, body["reference_number"])) == 1


def test_same_key_with_another_body_or_path_is_409(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    headers, body = _key(), _charge(synced)
    assert stack.http.post("/v1/resident-charges/resman/", json=body, headers=headers).is_success
    other = stack.http.post(
        "/v1/resident-charges/resman/", json={**body, "amount_in_cents": 1}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    elsewhere = stack.http.post("/v1/resident-charges/", json=body, headers=headers)
    assert elsewhere.status_code == 409


def test_refusals_are_not_kept_and_keys_belong_to_one_api_key(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    headers = _key()
    bad = {**_charge(synced), "amount_in_cents": -5}
    first = stack.http.post("/v1/resident-charges/resman/", json=bad, headers=headers)
    again = stack.http.post("/v1/resident-charges/resman/", json=bad, headers=headers)
    assert first.status_code == again.status_code == 400
    assert "idempotent-replayed" not in again.headers
    other_client = stack.client(stack.new_token())
    body = _charge(synced)
    mine = stack.http.post("/v1/resident-charges/resman/", json=body, headers=headers)
    assert mine.status_code == 200, mine.text  # the refusal did not keep the key
    changed = {**body, "amount_in_cents": body["amount_in_cents"] + 1}
    reused = stack.http.post("/v1/resident-charges/resman/", json=changed, headers=headers)
    assert reused.status_code == 409  # my key, another body
    theirs = other_client.post(
        "/v1/resident-charges/resman/", json=_charge(synced), headers=headers
    )
    assert theirs.status_code == 200 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["meta"]["job_id"] != mine.json()["meta"]["job_id"]


def test_two_identical_requests_at_once_make_one_job(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    headers, body = _key(), _batch(synced, 200)
    answers: list[httpx.Response] = []
    start = threading.Barrier(4)

    def post() -> None:
        with stack.client(stack.admin_token) as client:
            start.wait()
            answers.append(
                client.post("/v1/resident-charges/batch/resman/", json=body, headers=headers)
            )

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ok = [a for a in answers if a.status_code == 200]
    assert ok and all(a.status_code in (200, 409) for a in answers)
    assert all(
        a.json()["error"]["code"] == "request_in_progress" for a in answers if a.status_code == 409
    )
    assert len({a.json()["meta"]["job_id"] for a in ok}) == 1
    assert _status(stack, ok[0].json()["meta"]["job_id"])["write_status"] == "SUCCESS"
    assert len(_pending(stack, body["charges"][0]["reference_number"])) == 1


def test_the_same_batch_without_a_key_returns_the_first_job(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _batch(synced, 3)
    first = stack.http.post("/v1/resident-charges/batch/resman/", json=body)
    again = stack.http.post("/v1/resident-charges/batch/resman/", json=body)
    assert first.json()["meta"]["job_id"] == again.json()["meta"]["job_id"]
    body["charges"][0]["amount_in_cents"] += 1
    changed = stack.http.post("/v1/resident-charges/batch/resman/", json=body)
    assert changed.status_code == 409
    long_key = {"Idempotency-Key": "k" * 256}
    assert stack.http.post("/v1/resident-charges/", json=body, headers=long_key).status_code == 400
