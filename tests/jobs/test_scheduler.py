"""Schedules fire once when due; the next run is one interval after the last one finished."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from propbridge.config import Settings
from propbridge.db.base import utcnow
from propbridge.db.engine import Database
from propbridge.db.ids import new_id
from propbridge.db.migrate import upgrade_database
from propbridge.integrations.credentials import CredentialCipher, StaticKeyProvider
from propbridge.integrations.models import Integration
from propbridge.jobs.models import Job, Schedule
from propbridge.jobs.scheduler import enqueue_due, run_finished, upsert_schedule
from propbridge.runtime import Runtime


@pytest.fixture(scope="session")
async def runtime(queue_database_url: str) -> AsyncIterator[Runtime]:
    database = Database(queue_database_url)
    await upgrade_database(database)
    yield Runtime(Settings(), database, CredentialCipher(StaticKeyProvider(b"k" * 32)))
    await database.dispose()


async def _integration(runtime: Runtime) -> str:
    integration_id = new_id()
    async with runtime.database.write() as session:
        session.add(
            Integration(
                id=integration_id,
                name="s",
                vendor="RESMAN",
                credentials_ciphertext=b"x",
                account_key="a",
            )
        )
        await session.flush()
        await upsert_schedule(session, integration_id, "sched-test", 3600, active=True)
    return integration_id


async def _jobs(runtime: Runtime, integration_id: str) -> list[Job]:
    async with runtime.database.read() as session:
        return list(
            (
                await session.execute(select(Job).where(Job.integration_id == integration_id))
            ).scalars()
        )


async def test_a_due_schedule_fires_once(runtime: Runtime) -> None:
    integration_id = await _integration(runtime)
    await enqueue_due(runtime)
    await enqueue_due(runtime)
    jobs = await _jobs(runtime, integration_id)
    assert [j.kind for j in jobs] == ["sched-test"]
    assert jobs[0].concurrency_key == f"sched-test:{integration_id}"


async def test_next_run_is_an_interval_after_the_last_finished(runtime: Runtime) -> None:
    integration_id = await _integration(runtime)
    await enqueue_due(runtime)
    async with runtime.database.write() as session:
        await run_finished(session, integration_id, "sched-test")
    async with runtime.database.read() as session:
        schedule = (
            await session.execute(select(Schedule).where(Schedule.integration_id == integration_id))
        ).scalar_one()
    expected = utcnow() + timedelta(hours=1)
    assert abs((schedule.next_run_at - expected).total_seconds()) < 30


async def test_inactive_schedules_do_not_fire(runtime: Runtime) -> None:
    integration_id = await _integration(runtime)
    async with runtime.database.write() as session:
        await upsert_schedule(session, integration_id, "sched-test", 3600, active=False)
    await enqueue_due(runtime)
    assert await _jobs(runtime, integration_id) == []
