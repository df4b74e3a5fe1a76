"""The queue's tests get databases of their own: a live stack's worker must not take their jobs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
