"""The writes repository on a real database: dedupe lookups, recording a write with its items
and job, retry chains, outcomes, the rows reconciliation reads, and the write-log statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.engine import count_rows
from propbridge.db.ids import new_id
from propbridge.jobs.models import Job
from propbridge.writes import repository
from propbridge.writes.models import WriteItem, WriteRequest
from propbridge.writes.repository import LogFilters, SeenWrite
from tests import factories

T0 = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)


def _request_row(integration_id: str, job_id: str, **values: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "integration_id": integration_id,
        "account_key": "account",
        "operation": "resident_charge_batch",
        "request_body": {"charges": 2},
        "body_hash": "1" * 64,
        "dedupe_key": None,
        "job_id": job_id,
        "errors": [],
        "created_at": T0,
        "updated_at": T0,
        **values,
    }


def _item_row(request_id: str, position: int, reference: str) -> dict[str, Any]:
    return {
        "id": new_id(),
        "write_request_id": request_id,
        "position": position,
        "kind": "charge",
        "status": "PENDING",
        "reference_number": reference,
        "batch_id": "b-1",
        "amount_in_cents": 1_000 + position,
        "x_property_id": "P-1",
        "x_lease_id": "L-1",
        "upstream": {"charge_code": "RENT"},
    }


def _job_row(integration_id: str, job_id: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "kind": "write",
        "integration_id": integration_id,
        "payload": {},
        "state": "queued",
        "attempt": 0,
        "max_attempts": 5,
        "run_after": T0,
        "created_at": T0,
        "updated_at": T0,
    }


async def test_inserted_writes_are_found_by_their_job_with_items_in_order(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    job_id = new_id()
    request = _request_row(
        integration.id, job_id, dedupe_key=new_id(), retry_of=None, retry_root=None
    )
    items = [_item_row(request["id"], 1, "r-b"), _item_row(request["id"], 0, "r-a")]
    job = {**_job_row(integration.id, job_id), "concurrency_key": None}
    await repository.record_writes(session, [request], items, [job], [])
    found = await repository.write_by_job(session, job_id)
    assert found is not None
    assert found.request.id == request["id"] and found.request.operation == "resident_charge_batch"
    assert found.request.request_body == {"charges": 2}
    assert (found.job_state, found.job_error) == ("queued", None)
    ordered = await repository.items_of(session, request["id"])
    assert [(i.position, i.reference_number) for i in ordered] == [(0, "r-a"), (1, "r-b")]
    assert ordered[1].upstream == {"charge_code": "RENT"} and ordered[1].amount_in_cents == 1_001
    assert await repository.write_by_job(session, new_id()) is None


async def test_recording_no_write_writes_nothing(session: AsyncSession) -> None:
    before = await count_rows(session, select(WriteRequest))
    await repository.record_writes(session, [], [], [], [])
    assert await count_rows(session, select(WriteRequest)) == before


async def test_write_by_job_carries_the_jobs_state_and_error(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    write = await factories.write_request(session, integration, job_state="failed")
    carrier = await session.get(Job, write.job_id)
    assert carrier is not None
    carrier.last_error = "ResMan said no"
    await session.flush()
    found = await repository.write_by_job(session, write.job_id)
    assert found is not None and found.request.id == write.id
    assert (found.job_state, found.job_error) == ("failed", "ResMan said no")


async def test_latest_retry_job_and_retries_of_a_chain(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    root = await factories.write_request(session, integration, created_at=T0)
    # Recorded newest first, so that only the timestamps give the order.
    second = await factories.write_request(
        session, integration, retry_of=root.id, retry_root=root.id, created_at=T0 + timedelta(2)
    )
    first = await factories.write_request(
        session, integration, retry_of=root.id, retry_root=root.id, created_at=T0 + timedelta(1)
    )
    third = await factories.write_request(
        session, integration, retry_of=second.id, retry_root=root.id, created_at=T0 + timedelta(3)
    )
    other_root = await factories.write_request(session, integration, created_at=T0)
    await factories.write_request(
        session, integration, retry_of=other_root.id, retry_root=other_root.id, created_at=T0
    )
    assert await repository.latest_retry_job(session, root.id) == second.job_id
    assert await repository.latest_retry_job(session, second.id) == third.job_id
    assert await repository.latest_retry_job(session, third.id) is None
    chain = await repository.retries_of(session, root.id)
    assert [w.id for w in chain] == [first.id, second.id, third.id]
    assert await repository.retries_of(session, first.id) == []


async def test_record_outcome_sets_statuses_and_errors_by_position(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    write = await factories.write_request(session, integration)
    for position in range(3):
        await factories.write_item(
            session, write, position=position, reference_number=f"r-{position}"
        )
    untouched = await factories.write_request(session, integration)
    await factories.write_item(session, untouched)
    await repository.record_outcome(
        session, write.id, "REJECTED", "The batch was refused", {1: "Bad amount"}, ["Refused"]
    )
    write_id, untouched_id = write.id, untouched.id
    session.expire_all()  # read back what the database holds
    items = await repository.items_of(session, write_id)
    assert [(i.status, i.error) for i in items] == [
        ("REJECTED", "The batch was refused"),
        ("REJECTED", "Bad amount"),
        ("REJECTED", "The batch was refused"),
    ]
    recorded = await session.get(WriteRequest, write_id, populate_existing=True)
    assert recorded is not None
    assert recorded.errors == ["Refused"] and recorded.finished_at is not None
    [other] = await repository.items_of(session, untouched_id)
    assert (other.status, other.error) == ("PENDING", None)
    other_request = await session.get(WriteRequest, untouched_id, populate_existing=True)
    assert other_request is not None and other_request.finished_at is None


async def test_record_outcome_without_a_common_error_names_only_the_positions(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    write = await factories.write_request(session, integration)
    await factories.write_item(session, write, position=0, error="stale")
    await factories.write_item(session, write, position=1, reference_number="r-2")
    await repository.record_outcome(session, write.id, "ACCEPTED", None, {0: "Warning"}, [])
    write_id = write.id
    session.expire_all()  # read back what the database holds
    items = await repository.items_of(session, write_id)
    assert [(i.status, i.error) for i in items] == [("ACCEPTED", "Warning"), ("ACCEPTED", None)]


async def test_reference_holders_are_read_in_one_account(session: AsyncSession) -> None:
    mine, theirs = await factories.integration(session), await factories.integration(session)
    write = await factories.write_request(session, mine)
    await factories.write_item(session, write, reference_number="R-1")
    await factories.write_item(session, write, position=1, reference_number="r-2")
    elsewhere = await factories.write_request(session, theirs)
    await factories.write_item(session, elsewhere, reference_number="r-3")
    holders = await repository.reference_holders(session, mine.account_key, ["r-1", "r-2", "r-3"])
    assert holders == {"r-1": write.job_id, "r-2": write.job_id}


async def test_reference_holders_read_past_one_chunk(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    write = await factories.write_request(session, integration)
    references = [f"r-{n:04d}" for n in range(repository.IN_CHUNK + 1)]
    await factories.write_item(session, write, reference_number=references[0])
    await factories.write_item(session, write, position=1, reference_number=references[-1])
    holders = await repository.reference_holders(session, integration.account_key, references)
    assert holders == {references[0]: write.job_id, references[-1]: write.job_id}


async def test_chain_items_are_a_holders_and_its_retries_in_its_integration(
    session: AsyncSession,
) -> None:
    mine = await factories.integration(session)
    sibling = await factories.integration(session, account_key=mine.account_key)
    root = await factories.write_request(session, mine, job_state="failed")
    first = await factories.write_item(session, root, status="OUTCOME_UNKNOWN")
    retry = await factories.write_request(session, mine, retry_of=root.id, retry_root=root.id)
    again = await factories.write_item(session, retry, status="ACCEPTED")
    other = await factories.write_request(session, mine)
    await factories.write_item(session, other, reference_number="r-2")
    rows = await repository.chain_items(session, mine.id, mine.account_key, [root.job_id])
    assert {row.id for row in rows} == {first.id, again.id}
    assert {row.holder for row in rows} == {root.job_id}
    [row] = [row for row in rows if row.id == again.id]
    assert (row.write_request_id, row.kind, row.x_lease_id) == (retry.id, "charge", "L-1")
    assert (row.amount_in_cents, row.status, row.record_id) == (12_500, "ACCEPTED", None)
    assert row.upstream == {"transaction_date": "2026-11-02"}
    assert await repository.chain_items(session, sibling.id, mine.account_key, [root.job_id]) == []


async def _finished(
    session: AsyncSession,
    of: Any,
    at: datetime,
    job_state: str = "succeeded",
    item_status: str | None = None,
    **values: Any,
) -> WriteRequest:
    write = await factories.write_request(session, of, job_state=job_state, created_at=at, **values)
    status = item_status or ("ACCEPTED" if job_state == "succeeded" else "OUTCOME_UNKNOWN")
    await factories.write_item(session, write, status=status, reference_number=new_id())
    return write


async def test_write_logs_are_scoped_to_the_allow_list_before_paging(
    session: AsyncSession,
) -> None:
    mine, theirs = await factories.integration(session), await factories.integration(session)
    newest = await _finished(session, mine, T0 + timedelta(minutes=3))
    middle = await _finished(session, mine, T0 + timedelta(minutes=2))
    oldest = await _finished(session, mine, T0 + timedelta(minutes=1), job_state="failed")
    await factories.write_request(session, mine, job_state="queued")  # not finished
    for minute in (4, 5):  # newer than all of mine: paging first would return these
        await _finished(session, theirs, T0 + timedelta(minutes=minute))
    statement = repository.write_logs_statement(LogFilters(integration_ids=frozenset({mine.id})))
    assert await count_rows(session, statement) == 3
    page = (await session.execute(statement.limit(2))).all()
    assert [row[0].id for row in page] == [newest.id, middle.id]
    rest = (await session.execute(statement.offset(2).limit(2))).all()
    assert [row[0].id for row in rest] == [oldest.id]
    both = frozenset({mine.id, theirs.id})
    assert await count_rows(session, repository.write_logs_statement(LogFilters(both))) == 5
    narrowed = LogFilters(both, integration_id=theirs.id)
    assert await count_rows(session, repository.write_logs_statement(narrowed)) == 2


async def test_write_logs_status_and_latest_retry(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    scope = frozenset({integration.id})
    succeeded = await _finished(session, integration, T0)
    job_failed = await _finished(session, integration, T0, job_state="failed")
    item_rejected = await factories.write_request(session, integration, job_state="succeeded")
    await factories.write_item(session, item_rejected, status="REJECTED")
    retry = await _finished(
        session, integration, T0 + timedelta(1), retry_of=job_failed.id, retry_root=job_failed.id
    )
    # An answer lost, then its transaction found by a sync: the write went through.
    reconciled = await _finished(session, integration, T0, job_state="failed", item_status="POSTED")
    rows = (await session.execute(repository.write_logs_statement(LogFilters(scope)))).all()
    by_id = {row[0].id: row for row in rows}
    assert by_id[succeeded.id].status == "SUCCESS" and by_id[retry.id].status == "SUCCESS"
    assert by_id[job_failed.id].status == "FAILURE" and by_id[job_failed.id].state == "failed"
    assert by_id[item_rejected.id].status == "FAILURE"
    assert by_id[reconciled.id].status == "SUCCESS"
    assert by_id[job_failed.id].retried_by == retry.job_id
    assert by_id[succeeded.id].retried_by is None
    assert by_id[succeeded.id].vendor == "RESMAN"
    failures = repository.write_logs_statement(LogFilters(scope, status="FAILURE"))
    found = {row[0].id for row in (await session.execute(failures)).all()}
    assert found == {job_failed.id, item_rejected.id}
    batches = LogFilters(scope, operations=("resident_charge_batch",))
    assert await count_rows(session, repository.write_logs_statement(batches)) == 0


# ---- The group commit's statements, on the driver ----------------------------------------------


def test_driver_inserts_leave_out_only_columns_that_default_to_null() -> None:
    """The recorder's inserts bypass SQLAlchemy's defaults: every column they leave out must be
    one whose default is NULL anyway (a new column with a default needs adding there)."""
    for insert, model in (
        (repository.INSERT_REQUEST, WriteRequest),
        (repository.INSERT_ITEM, WriteItem),
        (repository.INSERT_JOB, Job),
    ):
        left_out = [c for c in model.__table__.columns if c.name not in insert.columns]
        for column in left_out:
            assert column.nullable, column.name
            assert column.server_default is None, column.name
            assert column.default is None or column.default.arg is None, column.name


async def test_writes_recorded_on_the_driver_read_back_as_sqlalchemy_writes_them(
    session: AsyncSession,
) -> None:
    """Timestamps (SQLite's text), JSON and plain columns round-trip through the models."""
    integration = await factories.integration(session)
    job_id = new_id()
    moment = datetime(2031, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
    request = _request_row(
        integration.id, job_id, dedupe_key=new_id(), created_at=moment, updated_at=moment
    )
    request["request_body"] = {"note": "café ✓", "n": 7, "nested": {"a": [1, 2]}}
    request.update(retry_of=None, retry_root=None)
    items = [_item_row(request["id"], 0, "r-a")]
    job = {**_job_row(integration.id, job_id), "concurrency_key": None, "run_after": moment}
    claim = {"account_key": integration.account_key, "reference": "r-a", "job_id": job_id}
    await repository.record_writes(session, [request], items, [job], [claim])
    found = await repository.write_by_job(session, job_id)
    assert found is not None and found.job_state == "queued"
    assert found.request.request_body == request["request_body"]
    assert found.request.created_at == moment and found.request.errors == []
    assert found.request.dispatched_at is None and found.request.finished_at is None
    [item] = await repository.items_of(session, request["id"])
    assert (item.status, item.upstream, item.record_id) == (
        "PENDING",
        {"charge_code": "RENT"},
        None,
    )
    stored_job = await session.get(Job, job_id)
    assert stored_job is not None
    assert stored_job.run_after == moment and stored_job.payload == {}
    assert stored_job.lease_expires_at is None and stored_job.result is None


async def test_a_taken_dedupe_key_is_a_write_conflict(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    key = new_id()
    first_job, second_job = new_id(), new_id()
    await repository.record_writes(
        session,
        [_request_row(integration.id, first_job, dedupe_key=key, retry_of=None, retry_root=None)],
        [],
        [{**_job_row(integration.id, first_job), "concurrency_key": None}],
        [],
    )
    again = _request_row(integration.id, second_job, dedupe_key=key, retry_of=None, retry_root=None)
    with pytest.raises(repository.WriteConflict):
        async with session.begin_nested():
            await repository.record_writes(
                session,
                [again],
                [],
                [{**_job_row(integration.id, second_job), "concurrency_key": None}],
                [],
            )


async def test_a_claimed_reference_is_a_write_conflict(session: AsyncSession) -> None:
    """Two writes of different routes (other dedupe keys) cannot claim one reference."""
    integration = await factories.integration(session)
    claim = {"account_key": integration.account_key, "reference": "r"}
    for n in range(2):
        job_id = new_id()
        rows = (
            [
                _request_row(
                    integration.id, job_id, dedupe_key=new_id(), retry_of=None, retry_root=None
                )
            ],
            [],
            [{**_job_row(integration.id, job_id), "concurrency_key": None}],
            [{**claim, "job_id": job_id}],
        )
        if n == 0:
            await repository.record_writes(session, *rows)
            first = job_id
            continue
        with pytest.raises(repository.WriteConflict):
            async with session.begin_nested():
                await repository.record_writes(session, *rows)
    found = await repository.batch_targets(session, [], [], [], [], ["r", "other"])
    assert found.claimed == {(integration.account_key, "r"): first}


async def test_batch_targets_reads_what_a_batch_names_in_one_statement(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    archived = await factories.integration(session, deleted_at=T0)
    at = await factories.property_(session, integration)
    lease = await factories.lease(session, at, unit_number="4B")
    resident = await factories.resident(session, lease, first_name="Grace", last_name="Hopper")
    leaseless = await factories.resident(session, lease, x_lease_id="gone")
    code = await factories.charge_code(session, at, code="PETF", category_type="Charge")
    key = f"{new_id()}\x1fk"
    seen = await factories.write_request(
        session, integration, dedupe_key=key, body_hash="b" * 64, request_body={"n": 2}
    )
    found = await repository.batch_targets(
        session,
        [integration.id, archived.id, "unknown"],
        [resident.id, leaseless.id, "unknown"],
        [code.id, "unknown"],
        [key, "unknown"],
        ["unknown"],
    )
    assert found.vendors == {integration.id: "RESMAN"}
    assert found.accounts == {integration.id: integration.account_key}
    assert found.residents[resident.id] == repository.ResidentTarget(
        resident.id, integration.id, at.id, at.x_id, lease.x_id, "4B", "Grace", "Hopper"
    )
    assert found.residents[leaseless.id].lease_x_id is None
    assert set(found.residents) == {resident.id, leaseless.id}
    assert found.codes == {
        code.id: repository.CodeTarget(code.id, integration.id, at.id, "Charge", "PETF")
    }
    assert found.seen == {key: SeenWrite(seen.job_id, "b" * 64, {"n": 2})}
    nothing = await repository.batch_targets(session, [], [], [], [], [])
    assert (nothing.vendors, nothing.residents, nothing.codes, nothing.seen) == ({}, {}, {}, {})
    assert nothing.claimed == {}
