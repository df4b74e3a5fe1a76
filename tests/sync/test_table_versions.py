"""Table version counters, bumped by every sync page: two transactions that bump a counter
nobody has bumped yet both count (two first syncs at once once failed on PostgreSQL on the
counter's primary key)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from propbridge.db.engine import Database
from propbridge.db.table_versions import bump_table_versions, table_versions
from tests.support import LiveStack

LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def _waiting_on_a_lock(database: Database) -> None:
    """Until another transaction of this database waits on a row or key lock (bounded)."""
    for _ in range(2000):
        async with database.read() as session:
            if (await session.execute(LOCK_WAITERS)).scalar_one():
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the second bump never waited for the first")


async def test_two_first_bumps_at_once_both_count(unit_database: Database) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"

    async def second() -> None:
        async with unit_database.write() as session:
            await bump_table_versions(session, [name, "another_" + name])

    async with unit_database.write() as session:
        await bump_table_versions(session, [name])
        racing = asyncio.create_task(second())
        # On PostgreSQL the second transaction, finding no counter either, now waits on the
        # first's key; SQLite writers queue, so there the second simply runs after.
        if not unit_database.is_sqlite:
            await _waiting_on_a_lock(unit_database)
    await racing
    assert await table_versions(unit_database, [name, "another_" + name]) == (2, 1)


async def test_a_bump_counts_each_table_once(unit_database: Database) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    async with unit_database.write() as session:
        await bump_table_versions(session, [name, name, f"{name}_b"])
        await bump_table_versions(session, [])
    async with unit_database.write() as session:
        await bump_table_versions(session, iter([name]))
    assert await table_versions(unit_database, [f"{name}_b", name, "never"]) == (1, 2, 0)


def test_two_first_syncs_at_once_both_succeed(stack: LiveStack) -> None:
    integrations = [stack.create_integration()["id"] for _ in range(2)]
    jobs = [
        stack.http.post(f"/v1/admin/integrations/{integration_id}/manual-sync").json()["result"][
            "job_id"
        ]
        for integration_id in integrations
    ]
    assert [stack.wait_job(job_id)["state"] for job_id in jobs] == ["succeeded", "succeeded"]
