"""The queue on both engines: enqueue, claim once, retry later, one active job per key, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from propbridge.db.engine import Database
from propbridge.jobs import queue
from propbridge.jobs.models import Job, JobAttempt
from propbridge.jobs.retry import backoff_seconds

LEASE = timedelta(seconds=30)


async def _enqueue(db: Database, kind: str, **kwargs: object) -> str:
    async with db.write() as session:
        return (await queue.enqueue(session, kind, {"n": 1}, **kwargs)).id  # type: ignore[arg-type]


async def _claim_kind(
    db: Database, kind: str, worker: str, limit: int = 10
) -> list[queue.ClaimedJob]:
    """Claim, then hand back jobs of other kinds (tests share one database)."""
    async with db.write() as session:
        claimed = await queue.claim(session, worker, limit, LEASE)
        mine = [j for j in claimed if j.kind == kind]
        for other in claimed:
            if other.kind != kind:
                await queue.schedule_retry(session, other, "not mine", 0)
        return mine


async def test_claimed_job_is_not_claimed_again(database: Database) -> None:
    job_id = await _enqueue(database, "t-once")
    first = await _claim_kind(database, "t-once", "w1")
    assert [j.id for j in first] == [job_id] and first[0].attempt == 1
    assert await _claim_kind(database, "t-once", "w2") == []
    async with database.read() as session:
        attempts = (
            await session.execute(select(JobAttempt).where(JobAttempt.job_id == job_id))
        ).scalars()
        assert [a.worker for a in attempts] == ["w1"]


async def test_concurrent_claimers_share_jobs_without_overlap(database: Database) -> None:
    ids = {await _enqueue(database, "t-race") for _ in range(12)}
    results = await asyncio.gather(
        *(_claim_kind(database, "t-race", f"w{i}", 2) for i in range(10))
    )
    claimed = [j.id for batch in results for j in batch]
    assert len(claimed) == len(set(claimed))
    assert set(claimed) <= ids


async def test_retry_waits_for_its_time(database: Database) -> None:
    job_id = await _enqueue(database, "t-retry")
    [job] = await _claim_kind(database, "t-retry", "w")
    async with database.write() as session:
        await queue.schedule_retry(session, job, "busy", 3600)
    assert await _claim_kind(database, "t-retry", "w") == []
    async with database.read() as session:
        stored = await session.get(Job, job_id)
        assert stored is not None and stored.state == "queued" and stored.last_error == "busy"


async def test_one_active_job_per_concurrency_key(database: Database) -> None:
    first = await _enqueue(database, "t-key", concurrency_key="sync:abc")
    assert await _enqueue(database, "t-key", concurrency_key="sync:abc") == first
    [job] = await _claim_kind(database, "t-key", "w")
    async with database.write() as session:
        await queue.mark_succeeded(session, job)
    assert await _enqueue(database, "t-key", concurrency_key="sync:abc") != first


async def test_expired_leases_are_found(database: Database) -> None:
    job_id = await _enqueue(database, "t-lease")
    async with database.write() as session:
        claimed = await queue.claim(session, "dead", 50, timedelta(seconds=-1))
        for other in claimed:
            if other.kind != "t-lease":
                await queue.schedule_retry(session, other, "not mine", 0)
    async with database.read() as session:
        assert job_id in {j.id for j in await queue.expired_jobs(session)}


def test_backoff_grows_and_honours_retry_after() -> None:
    import random

    rng = random.Random(1)
    assert all(0 <= backoff_seconds(1, rng=rng) <= 2 for _ in range(50))
    assert all(backoff_seconds(20, rng=rng) <= 300 for _ in range(50))
    assert backoff_seconds(1, retry_after=30, rng=rng) >= 30


async def test_claims_keep_each_integration_under_its_cap(database: Database) -> None:
    async def caps(_session: object, ids: list[str]) -> dict[str, int]:
        return {i: 2 for i in ids if i == "capped"}

    async def claim(worker: str) -> list[queue.ClaimedJob]:
        async with database.write() as session:
            claimed = await queue.claim(session, worker, 10, LEASE, limits=caps)
            for other in claimed:
                if other.kind != "capped-kind":  # tests share one database: hand them back
                    await queue.schedule_retry(session, other, "not mine", 0)
        return [j for j in claimed if j.kind == "capped-kind"]

    for _ in range(4):
        await _enqueue(database, "capped-kind", integration_id="capped")
    await _enqueue(database, "capped-kind", integration_id="free")
    first = await claim("w1")
    assert sorted(str(j.integration_id) for j in first) == ["capped", "capped", "free"]
    assert await claim("w2") == []  # the cap's two still run
    async with database.write() as session:
        await queue.mark_succeeded(session, next(j for j in first if j.integration_id == "capped"))
    assert [j.integration_id for j in await claim("w3")] == ["capped"]
