"""What each write really became: within a retry chain the attempt ResMan took is credited, a
ledger row whose date differs is nobody's, accepted items the ledger never shows turn
UNCONFIRMED (once, with a webhook) and can still be found, and money past 2^31 cents reaches
ResMan exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from propbridge.sandbox.resman.seed import SeedSize
from propbridge.writes.schemas import MAX_AMOUNT_IN_CENTS
from tests.conftest import stack_of_its_own
from tests.e2e.test_ledger_and_reconciliation import _logs, _status, answers_lost
from tests.e2e.test_seed_path import _charge, _pending
from tests.e2e.test_webhooks import Receiver, _hook
from tests.support import LiveStack, list_all, synced_view, wait_for


def _approve(stack: LiveStack, sandbox_item: dict[str, Any], **body: Any) -> None:
    answer = stack.sandbox.post(
        f"/_sandbox/partner-transactions/{sandbox_item['id']}/approve", json=body
    )
    assert answer.status_code == 200, answer.text


def test_the_attempt_resman_took_is_credited_not_the_unknown_one(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    """The answer to a post was lost (ResMan stored it); the operator looked, did not see it,
    and retried: ResMan now holds it twice. Whichever the manager approves, the ledger row is
    the chain's one transaction and the retry (which ResMan is known to have taken) gets it;
    a second approved copy is credited to no one."""
    with answers_lost(stack):
        body = _charge(synced)
        lost = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
        assert _status(stack, lost)["items"][0]["status"] == "OUTCOME_UNKNOWN"
    retried = stack.http.post(
        f"/v1/admin/retry-write/{lost}", params={"outcome_checked": "true"}, json={}
    )
    assert retried.status_code == 200, retried.text
    retry = retried.json()["job_id"]
    assert _status(stack, retry)["items"][0]["status"] == "ACCEPTED"
    copies = _pending(stack, body["reference_number"])
    first_copy, second_copy = sorted(copies, key=lambda i: (i["received_at"], i["id"]))
    _approve(stack, first_copy)
    stack.sync(synced["integration"]["id"])
    original, again = (stack.http.get(f"/v1/admin/write-status/{j}").json() for j in (lost, retry))
    assert original["items"][0]["status"] == "OUTCOME_UNKNOWN", original
    assert again["items"][0]["status"] == "POSTED" and again["created_record_id"], again
    _approve(stack, second_copy)
    stack.sync(synced["integration"]["id"])
    original = stack.http.get(f"/v1/admin/write-status/{lost}").json()
    assert original["items"][0]["status"] == "OUTCOME_UNKNOWN" and not original["created_record_id"]
    [posted] = _logs(stack, retry, item_status="POSTED")
    assert posted["status"] == "SUCCESS"
    assert _logs(stack, lost, item_status="POSTED") == []


def test_a_ledger_row_of_another_date_is_not_credited(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    """The manager posted the file on another Posting Date: nothing tells this row from another
    transaction with the reference, so the write is not credited (it is left to turn
    UNCONFIRMED)."""
    body = _charge(synced, transaction_date="2026-11-02T10:00:00Z")
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    _status(stack, job_id)
    [item] = _pending(stack, body["reference_number"])
    _approve(stack, item, posting_date="2026-11-05")
    stack.sync(synced["integration"]["id"])
    status = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    assert status["items"][0]["status"] == "ACCEPTED" and status["created_record_id"] is None
    ledger = list_all(stack, "/v1/resident-charges/", integration_id=synced["integration"]["id"])
    [row] = [c for c in ledger if c["reference_number"] == body["reference_number"]]
    assert row["transaction_date"] == "2026-11-05"


@pytest.mark.parametrize("cents", [2**31, 2**32 + 1, MAX_AMOUNT_IN_CENTS])
def test_amounts_past_two_to_the_31_reach_resman_exactly(
    stack: LiveStack, synced: dict[str, Any], cents: int
) -> None:
    body = _charge(synced, amount_in_cents=cents)
    answer = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["meta"]["job_id"]
    assert _status(stack, job_id)["write_status"] == "SUCCESS"
    [item] = _pending(stack, body["reference_number"])
    assert Decimal(item["amount"]) == Decimal(cents) / 100
    assert item["amount"] == f"{cents // 100}.{cents % 100:02d}"
    _approve(stack, item)
    stack.sync(synced["integration"]["id"])
    status = stack.http.get(f"/v1/admin/write-status/{job_id}").json()
    assert status["items"][0]["status"] == "POSTED", status
    record = stack.http.get(f"/v1/resident-charges/{status['created_record_id']}").json()
    assert record["results"]["amount_in_cents"] == cents


def test_one_cent_past_the_stated_maximum_is_refused(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _charge(synced, amount_in_cents=MAX_AMOUNT_IN_CENTS + 1)
    refused = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert refused.status_code == 400, refused.text


@pytest.fixture(scope="module")
def own(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveStack, dict[str, Any]]]:
    """A stack of its own (its clock is moved days ahead) and its synced integration."""
    for live in stack_of_its_own(database_url, tmp_path_factory, SeedSize(1, 4, 2)):
        integration = live.create_integration()
        assert live.sync(integration["id"])["state"] == "succeeded"
        yield live, synced_view(live, integration)


def test_accepted_charges_the_ledger_never_shows_turn_unconfirmed_once(
    own: tuple[LiveStack, dict[str, Any]],
) -> None:
    stack, synced = own
    integration_id = synced["integration"]["id"]
    receiver = Receiver()
    try:
        _hook(stack, receiver, triggers=["WRITE_UNCONFIRMED", "WRITE_RECONCILED"])
        rejected, waiting = _charge(synced), _charge(synced)
        jobs = [
            stack.http.post("/v1/resident-charges/resman/", json=b).json()["meta"]["job_id"]
            for b in (rejected, waiting)
        ]
        statuses = [_status(stack, job)["items"][0] for job in jobs]
        assert [s["status"] for s in statuses] == ["ACCEPTED", "ACCEPTED"]
        assert all(s["accepted_at"] for s in statuses)
        [to_reject] = _pending(stack, rejected["reference_number"])
        stack.sandbox.post(f"/_sandbox/partner-transactions/{to_reject['id']}/reject")
        stack.sync(integration_id)
        stack.clock.advance(timedelta(days=6))
        stack.sync(integration_id)
        assert [_item(stack, job)["status"] for job in jobs] == ["ACCEPTED", "ACCEPTED"]
        stack.clock.advance(timedelta(days=2))  # 8 days after they were taken
        outcome = stack.sync(integration_id)
        assert outcome["result"]["unconfirmed"] == 2
        items = [_item(stack, job) for job in jobs]
        assert [i["status"] for i in items] == ["UNCONFIRMED", "UNCONFIRMED"]
        assert all(i["unconfirmed_at"] and i["accepted_at"] for i in items)
        status = stack.http.get(f"/v1/admin/write-status/{jobs[0]}").json()
        assert status["write_status"] == "SUCCESS"  # Propexo's meaning: ResMan took it
        events = wait_for(lambda: len(receiver.of("WRITE_UNCONFIRMED")) == 2 and receiver)
        assert sorted(e["root_job_id"] for e in events.of("WRITE_UNCONFIRMED")) == sorted(jobs)
        for job in jobs:
            [log] = _logs(stack, job, item_status="UNCONFIRMED")
            assert log["item_statuses"] == {"UNCONFIRMED": 1}
        # Later syncs do not report them again; the one approved late is still found.
        [late] = _pending(stack, waiting["reference_number"])
        _approve(stack, late)
        stack.sync(integration_id)
        assert [_item(stack, job)["status"] for job in jobs] == ["UNCONFIRMED", "POSTED"]
        wait_for(
            lambda: [e for e in receiver.of("WRITE_RECONCILED") if e["root_job_id"] == jobs[1]]
        )
        assert len(receiver.of("WRITE_UNCONFIRMED")) == 2
    finally:
        receiver.server.shutdown()


def _item(stack: LiveStack, job_id: str) -> dict[str, Any]:
    item: dict[str, Any] = stack.http.get(f"/v1/admin/write-status/{job_id}").json()["items"][0]
    return item


@pytest.mark.parametrize(
    ("frequency", "cadence", "accepted"),
    [
        (365, "DAY", True),
        (52, "WEEK", True),
        (366, "DAY", False),
        (13, "MONTH", False),
        (100_000, "MONTH", False),
        (100_000, "WEEK", False),
    ],
)
def test_a_schedule_may_wait_a_year_at_most(
    stack: LiveStack, frequency: int, cadence: str, accepted: bool
) -> None:
    integration = stack.create_integration()
    try:
        answer = stack.http.put(
            f"/v1/admin/integrations/{integration['id']}/",
            json={"sync_frequency": frequency, "sync_cadence": cadence},
        )
        assert answer.status_code == (200 if accepted else 400), answer.text
        if not accepted:
            paths = [i["path"] for i in answer.json()["error"]["details"]["issues"]]
            assert paths == [["sync_frequency"], ["sync_cadence"]]
            created = stack.http.post(
                "/v1/admin/integrations/",
                json={
                    "integration_vendor": "RESMAN",
                    "name": "too rare",
                    "base_url": stack.sandbox_url,
                    "credentials": stack.credentials(),
                    "sync_frequency": frequency,
                    "sync_cadence": cadence,
                },
            )
            assert created.status_code == 400, created.text
        else:
            assert stack.sync(integration["id"])["state"] == "succeeded"
    finally:
        stack.http.delete(f"/v1/admin/integrations/{integration['id']}/")
