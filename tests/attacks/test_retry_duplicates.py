"""Attack: retry a failed write many times, at once and in turn, to post it many times.

A write has at most one live retry: every call while it is pending or succeeded answers with it;
concurrent calls make one job; the original says it was retried and by which job."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_payments_batches_generic import _charge_code_unknown_to_resman
from tests.e2e.test_seed_path import _charge, _pending
from tests.support import LiveStack


def _retry_many(stack: LiveStack, job_id: str, times: int) -> list[Any]:
    def retry(_: int) -> Any:
        with stack.client(stack.admin_token) as client:
            return client.post(f"/v1/admin/retry-write/{job_id}", json={})

    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(retry, range(times)))


def _failed_charge(stack: LiveStack, synced: dict[str, Any]) -> tuple[dict[str, Any], str]:
    body = _charge(synced)
    with _charge_code_unknown_to_resman(stack, "PETF"):
        job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
        assert _status(stack, job_id)["write_status"] == "FAILURE"
    return body, job_id


def test_concurrent_and_repeated_retries_post_a_write_once(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body, job_id = _failed_charge(stack, synced)
    answers = _retry_many(stack, job_id, 5)
    assert {a.status_code for a in answers} == {200}
    retry_jobs = {a.json()["job_id"] for a in answers}
    assert len(retry_jobs) == 1 and job_id not in retry_jobs
    [retry_job] = retry_jobs
    again = stack.http.post(f"/v1/admin/retry-write/{job_id}", json={})
    assert again.json()["job_id"] == retry_job
    assert _status(stack, retry_job)["write_status"] == "SUCCESS"
    after = stack.http.post(f"/v1/admin/retry-write/{job_id}", json={})
    assert after.status_code == 200 and after.json()["job_id"] == retry_job
    assert stack.http.post(f"/v1/admin/retry-write/{retry_job}", json={}).json()["job_id"] == (
        retry_job
    )
    assert len(_pending(stack, body["reference_number"])) == 1
    original = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    assert original["write_status"] == "FAILURE" and original["retried_by"] == retry_job
    logs = stack.http.get("/v1/admin/logs/writes/", params={"limit": 100}).json()
    [log] = [entry for entry in logs["results"]["logs"] if entry["job_id"] == job_id]
    assert log["retried_by"] == retry_job


def test_a_failed_retry_can_be_retried_once_more(stack: LiveStack, synced: dict[str, Any]) -> None:
    body, job_id = _failed_charge(stack, synced)
    with _charge_code_unknown_to_resman(stack, "PETF"):
        first = stack.http.post(f"/v1/admin/retry-write/{job_id}", json={}).json()["job_id"]
        assert _status(stack, first)["write_status"] == "FAILURE"
    answers = _retry_many(stack, first, 4) + _retry_many(stack, job_id, 4)
    second = {a.json()["job_id"] for a in answers}
    assert len(second) == 1 and first not in second
    [second_job] = second
    assert _status(stack, second_job)["write_status"] == "SUCCESS"
    assert len(_pending(stack, body["reference_number"])) == 1
    assert stack.http.get(f"/v1/admin/write-status/{first}").json()["retried_by"] == second_job
    assert stack.http.get(f"/v1/admin/write-status/{job_id}").json()["retried_by"] == first


def test_a_write_that_did_not_fail_cannot_be_retried(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    job_id = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()["meta"][
        "job_id"
    ]
    assert _status(stack, job_id)["write_status"] == "SUCCESS"
    answers = _retry_many(stack, job_id, 3)
    assert {a.status_code for a in answers} == {400}
