"""The queue's tests get databases of their own: a live stack's worker must not take their jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from propbridge.config import Settings
from propbridge.db.engine import Database
from propbridge.db.migrate import upgrade_database
from propbridge.integrations.credentials import generate_key_text
from propbridge.runtime import Runtime
from tests.conftest import fresh_postgres


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def queue_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database that no worker polls."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('queue') / 'queue.db'}"
        return
    yield from fresh_postgres()


@pytest.fixture(scope="session")
async def database(queue_database_url: str) -> AsyncIterator[Database]:
    """The queue database, migrated."""
    db = Database(queue_database_url)
    await upgrade_database(db)
    yield db
    await db.dispose()


@asynccontextmanager
async def worker_runtime(url: str, data_dir: Path, **settings: Any) -> AsyncIterator[Runtime]:
    """A migrated runtime for a worker under test: it polls every 20 ms, plus `settings`."""
    live = Runtime.from_settings(
        Settings(
            database_url=url,
            data_dir=data_dir,
            encryption_key=generate_key_text(),
            **{"worker_poll_seconds": 0.02, **settings},
        )
    )
    await upgrade_database(live.database)
    try:
        yield live
    finally:
        await live.close()
