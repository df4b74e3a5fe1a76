"""Writes started together, in the transaction that claims them: every one's dispatched mark is
committed (seen from another connection) before its document leaves, and each is sent once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from propbridge.connectors.resman.clients import ResManV1Client
from propbridge.connectors.resman.envelope import Envelope
from propbridge.integrations.models import Integration
from propbridge.jobs import queue
from propbridge.writes import tasks
from propbridge.writes.models import WriteItem, WriteRequest
from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack

REFERENCE = re.compile(r"<TransactionID>([^<]+)</TransactionID>")


@pytest.fixture
def held(stack: LiveStack, synced: dict[str, Any]) -> Iterator[str]:
    """The synced integration with no job slot (a cap of 0, which the API would refuse): its
    writes queue up until the cap is given back, then one claim takes them together."""
    integration_id: str = synced["integration"]["id"]

    async def cap(value: int) -> None:
        async with stack.runtime.database.write() as session:
            await session.execute(
                update(Integration)
                .where(Integration.id == integration_id)
                .values(max_job_concurrency=value)
            )

    stack.call(cap(0))
    try:
        yield integration_id
    finally:
        stack.call(cap(100))


@pytest.fixture
def sent_references(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The references of every document posted to ResMan from now on."""
    sent: list[str] = []
    post_document = ResManV1Client.post_document

    async def counted_post(self: ResManV1Client, method: str, fields: dict[str, str]) -> Envelope:
        sent.extend(REFERENCE.findall(fields["Xml"]))
        return await post_document(self, method, fields)

    monkeypatch.setattr(ResManV1Client, "post_document", counted_post)
    return sent


def test_writes_begun_together_are_each_dispatched_before_being_sent(
    stack: LiveStack, synced: dict[str, Any], held: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = stack.runtime.database
    sent: list[tuple[str, bool]] = []
    begun: list[int] = []
    post_document = ResManV1Client.post_document
    begin = tasks._Sending.begin

    async def checked_post(self: ResManV1Client, method: str, fields: dict[str, str]) -> Envelope:
        [reference] = REFERENCE.findall(fields["Xml"])
        # Another connection sees only what was committed.
        async with database.read_connection() as connection:
            dispatched = await connection.scalar(
                select(WriteRequest.dispatched_at)
                .join(WriteItem, WriteItem.write_request_id == WriteRequest.id)
                .where(WriteItem.reference_number == reference)
            )
        sent.append((reference, dispatched is not None))
        return await post_document(self, method, fields)

    async def counted_begin(
        self: tasks._Sending, connection: Any, jobs: list[queue.ClaimedJob]
    ) -> list[Any]:
        begun.append(len(jobs))
        return await begin(self, connection, jobs)

    monkeypatch.setattr(ResManV1Client, "post_document", checked_post)
    monkeypatch.setattr(tasks._Sending, "begin", counted_begin)
    charges = [_charge(synced) for _ in range(6)]
    jobs = [
        stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
        for body in charges
    ]

    async def give_slots_back() -> None:
        async with database.write() as session:
            await session.execute(
                update(Integration).where(Integration.id == held).values(max_job_concurrency=100)
            )
        stack.runtime.notify_job_enqueued()

    stack.call(give_slots_back())
    for job_id in jobs:
        assert _status(stack, job_id)["write_status"] == "SUCCESS"
    references = sorted(body["reference_number"] for body in charges)
    assert sorted(reference for reference, _ in sent) == references  # each sent once
    assert all(dispatched for _, dispatched in sent), sent
    assert max(begun) == len(charges), begun  # claimed and begun together


def test_a_write_marked_sent_is_never_sent_again(
    stack: LiveStack, synced: dict[str, Any], held: str, sent_references: list[str]
) -> None:
    """A job that finds its write already marked dispatched (an earlier attempt posted it and
    the transaction recording ResMan's answer failed) ends OUTCOME_UNKNOWN without a post."""
    database = stack.runtime.database
    body = _charge(synced)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]

    async def mark_sent_and_give_slots_back() -> None:
        async with database.write() as session:
            request_id = await session.scalar(
                select(WriteItem.write_request_id).where(
                    WriteItem.reference_number == body["reference_number"]
                )
            )
            await session.execute(
                update(WriteRequest)
                .where(WriteRequest.id == request_id)
                .values(dispatched_at=stack.clock.now())
            )
            await session.execute(
                update(Integration).where(Integration.id == held).values(max_job_concurrency=100)
            )
        stack.runtime.notify_job_enqueued()

    stack.call(mark_sent_and_give_slots_back())
    status = _status(stack, job_id)
    assert status["write_status"] != "SUCCESS", status
    assert "Outcome unknown" in str(status), status
    assert body["reference_number"] not in sent_references


def test_a_write_whose_reference_another_write_holds_is_never_sent(
    stack: LiveStack, synced: dict[str, Any], held: str, sent_references: list[str]
) -> None:
    """A write still queued when the upgrade found another write of its account holding its
    reference (`held_by_job_id`) ends REJECTED, naming the holder, without a post."""
    database = stack.runtime.database
    body = _charge(synced)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]

    async def held_by_another_and_give_slots_back() -> None:
        async with database.write() as session:
            await session.execute(
                update(WriteItem)
                .where(WriteItem.reference_number == body["reference_number"])
                .values(held_by_job_id="job-of-the-holder")
            )
            await session.execute(
                update(Integration).where(Integration.id == held).values(max_job_concurrency=100)
            )
        stack.runtime.notify_job_enqueued()

    stack.call(held_by_another_and_give_slots_back())
    status = _status(stack, job_id)
    assert status["write_status"] == "FAILURE", status
    assert status["items"][0]["status"] == "REJECTED"
    assert status["items"][0]["held_by_job_id"] == "job-of-the-holder"
    assert "job-of-the-holder" in status["errors"][0] and "doctor" in status["errors"][0]
    assert body["reference_number"] not in sent_references


def test_a_write_is_not_sent_to_an_account_its_integration_moved_to(
    stack: LiveStack, synced: dict[str, Any], held: str, sent_references: list[str]
) -> None:
    """A write accepted (its reference claimed) in one account, still queued when its
    integration is pointed at another: the new account's ledger may hold the reference already,
    so the write ends REJECTED, saying why, and nothing is sent."""
    body = _charge(synced)
    job_id = stack.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
    stack.repoint(held, stack.sandbox_url + "/another-resman")
    try:

        async def give_slots_back() -> None:
            async with stack.runtime.database.write() as session:
                await session.execute(
                    update(Integration)
                    .where(Integration.id == held)
                    .values(max_job_concurrency=100)
                )
            stack.runtime.notify_job_enqueued()

        stack.call(give_slots_back())
        status = _status(stack, job_id)
    finally:
        stack.repoint(held, stack.sandbox_url)
    assert status["write_status"] == "FAILURE", status
    assert status["items"][0]["status"] == "REJECTED"
    assert "another PMS account" in status["errors"][0]
    assert body["reference_number"] not in sent_references
