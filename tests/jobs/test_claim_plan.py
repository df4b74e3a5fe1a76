"""A claim's cost does not grow with the queue's history.

Each claim counts the running jobs of the integrations it may take work from. SQLite plans
with the statistics it gathered last (`PRAGMA optimize` after a sync), typically while `jobs`
held a handful of rows; with only the index on `integration_id`, it then read every job the
integration ever had, on every claim (the worker's delivery slowed as the queue grew).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.dialects import sqlite

from propbridge.db.engine import Database
from propbridge.db.migrate import upgrade_database
from propbridge.jobs.queue import RUNNING_PER_INTEGRATION


async def test_running_jobs_are_counted_from_their_own_index_whatever_the_statistics(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plan.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade_database(database)
    await database.dispose()
    with sqlite3.connect(path) as connection:
        # Statistics as a first sync leaves them: one job, of one integration.
        connection.execute(
            "INSERT INTO jobs (id, kind, integration_id, state, payload, attempt, max_attempts, "
            "run_after, created_at, updated_at) VALUES ('j', 'write', 'i', 'succeeded', '{}', "
            "1, 1, '2026-12-01', '2026-12-01', '2026-12-01')"
        )
        connection.execute("ANALYZE")
    expanded = RUNNING_PER_INTEGRATION.compile(dialect=sqlite.dialect()).construct_expanded_state(
        {"b_integrations": ["i"]}
    )
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            f"EXPLAIN QUERY PLAN {expanded.statement}", expanded.positional_parameters or ()
        )
        plan = " ".join(row[3] for row in rows)
    assert "ix_jobs_state_integration_id (state=? AND integration_id=?)" in plan, plan
