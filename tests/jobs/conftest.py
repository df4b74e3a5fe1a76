"""The queue's tests get databases of their own: a live stack's worker must not take their jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.conftest import _create_pg_database, _drop_pg_database
from tests.support import IN_CI


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def queue_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database that no worker polls."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('queue') / 'queue.db'}"
        return
    name = asyncio.run(_create_pg_database())
    if name is None:
        if IN_CI:
            pytest.fail("PostgreSQL is unreachable and CI=true requires it")
        pytest.skip("PostgreSQL is unreachable")
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    asyncio.run(_drop_pg_database(name))
