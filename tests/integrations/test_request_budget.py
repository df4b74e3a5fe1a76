"""The request budget counted in batches: two processes counting units ahead never make more
requests in a window than the budget; units are counted in the caller's transaction and spent
only once it has committed; a large budget is counted seldom, a small one request by request."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from propbridge.db.engine import Database
from propbridge.db.migrate import upgrade_database
from propbridge.db.usage_windows import UsageWindow
from propbridge.integrations.request_budget import RequestBudget


@pytest.fixture
async def database(own_database: str) -> AsyncIterator[Database]:
    db = Database(own_database)
    await upgrade_database(db)
    yield db
    await db.dispose()


async def _counted(db: Database, subject: str) -> dict[int, int]:
    async with db.read_connection() as connection:
        rows = await connection.execute(
            select(UsageWindow.window, UsageWindow.count).where(UsageWindow.subject == subject)
        )
        return {int(window): int(count) for window, count in rows}


def _take(url: str, integration_id: str, frequency: int, calls: int) -> list[int]:
    """In a process of its own: `calls` requests from the budget, the window of each."""

    async def run() -> list[int]:
        database = Database(url)
        budget = RequestBudget(database, integration_id, frequency, "SECOND")
        try:
            return [await budget() for _ in range(calls)]
        finally:
            await database.dispose()

    return asyncio.run(run())


async def test_two_processes_counting_ahead_stay_within_the_budget(
    database: Database, own_database: str
) -> None:
    frequency, calls = 40, 60
    # Each reservation counts 40 // 8 = 5 units, more than the one request that asked.
    assert RequestBudget(database, "x", frequency, "SECOND").units_for(1) == 5
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        batches = await asyncio.to_thread(
            pool.starmap, _take, [(own_database, "integration-p", frequency, calls)] * 2
        )
    per_window = Counter(window for batch in batches for window in batch)
    assert sum(per_window.values()) == 2 * calls
    assert max(per_window.values()) <= frequency, per_window
    # The database counted at least what was spent, and never granted beyond the budget.
    counted = await _counted(database, "pms:integration-p")
    assert all(per_window[w] <= min(c, frequency) for w, c in counted.items())


async def test_units_counted_in_a_rolled_back_transaction_are_neither_counted_nor_spent(
    database: Database,
) -> None:
    budget = RequestBudget(database, "integration-r", 1000, "HOUR")
    with pytest.raises(RuntimeError):
        async with database.write_connection() as connection:
            window, units = await budget.reserve(connection, budget.units_for(3))
            assert units == 125  # 1000 // 8 ahead of the 3 asked
            raise RuntimeError("the transaction fails after counting")
    assert await _counted(database, "pms:integration-r") == {}
    assert budget.in_hand() == 0  # nothing was credited
    async with database.write_connection() as connection:
        window, units = await budget.reserve(connection, 3)
    budget.credit(window, units)
    assert budget.in_hand() == 3
    assert await _counted(database, "pms:integration-r") == {window: 3}


async def test_a_large_budget_is_counted_seldom_and_a_small_one_per_request(
    database: Database,
) -> None:
    large = RequestBudget(database, "integration-l", 800, "HOUR")
    windows = {await large() for _ in range(50)}
    # One database write counted 100 units; the 49 next requests took them in memory.
    assert await _counted(database, "pms:integration-l") == {windows.pop(): 100}
    small = RequestBudget(database, "integration-s", 5, "HOUR")
    for _ in range(3):
        window = await small()
    assert await _counted(database, "pms:integration-s") == {window: 3}
