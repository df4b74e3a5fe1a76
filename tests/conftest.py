"""Fixtures: both database engines, a live stack per engine, a synced integration."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.engine import Database
from propbridge.db.migrate import upgrade_database
from propbridge.sandbox.resman.seed import SeedSize
from tests.support import IN_CI, LiveStack, synced_view

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# The sandbox and test receivers listen on loopback: let outbound calls reach it, in this
# process's stacks and in every propbridge process the tests start.
os.environ["PROPBRIDGE_OUTBOUND_ALLOWLIST"] = "127.0.0.1"


async def _create_pg_database() -> str | None:
    import asyncpg

    name = f"propbridge_pytest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def fresh_postgres() -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards; skipped (failed under CI) if unreachable."""
    name = asyncio.run(_create_pg_database())
    if name is None:
        if IN_CI:
            pytest.fail("PostgreSQL is unreachable on 127.0.0.1:5432 and CI=true requires it")
        pytest.skip("PostgreSQL is unreachable")
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    asyncio.run(_drop_pg_database(name))


def database_of_its_own(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a new database on `engine` ("sqlite", or a URL of PostgreSQL's kind), a
    PostgreSQL one dropped when the generator is closed."""
    if engine.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('own') / 'own.db'}"
    else:
        yield from fresh_postgres()


def stack_of_its_own(
    engine: str, tmp_path_factory: pytest.TempPathFactory, seed: SeedSize
) -> Iterator[LiveStack]:
    """A live stack on a database of its own, closed (and its database dropped) afterwards:
    for tests whose stack must not share rows with others."""
    urls = database_of_its_own(engine, tmp_path_factory)
    live = LiveStack(next(urls), tmp_path_factory.mktemp("own-data"), seed)
    try:
        yield live
    finally:
        live.close()
        next(urls, None)  # drops the PostgreSQL database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test process's own, so parallel test workers never see each
    other's rows."""
    yield from fresh_postgres()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of each engine in turn."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'propbridge.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """A live API + worker + scheduler + ResMan sandbox on that engine."""
    live = LiveStack(database_url, tmp_path_factory.mktemp("data"))
    yield live
    live.close()


@pytest.fixture(scope="session")
def synced(stack: LiveStack) -> dict[str, Any]:
    """An integration on the sandbox after its first sync, with handy ids."""
    integration = stack.create_integration()
    outcome = stack.sync(integration["id"])
    assert outcome["state"] == "succeeded", outcome
    return synced_view(stack, integration)


@pytest.fixture
def own_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of one test alone, on the same engine (for stacks of its own)."""
    yield from database_of_its_own(database_url, tmp_path_factory)


@pytest.fixture(autouse=True)
def _webhooks_die_with_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test's webhooks are deleted when it ends, so that no test hears (or counts against
    the per-scope webhook cap) another's."""
    yield
    if "stack" not in request.fixturenames:
        return
    live: LiveStack = request.getfixturevalue("stack")
    for active in ("true", "false"):
        listed = live.http.get("/v1/webhooks/", params={"active": active, "limit": 250})
        for hook in listed.json()["results"]:
            live.http.delete(f"/v1/webhooks/{hook['id']}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def unit_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """A migrated database of the unit tests' own on each engine (no worker polls it)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('unit') / 'unit.db'}"
        database = Database(url)
        await upgrade_database(database)
        yield database
        await database.dispose()
        return
    name = await _create_pg_database()
    if name is None:
        if IN_CI:
            pytest.fail("PostgreSQL is unreachable on 127.0.0.1:5432 and CI=true requires it")
        pytest.skip("PostgreSQL is unreachable")
    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    await upgrade_database(database)
    yield database
    await database.dispose()
    await _drop_pg_database(name)


@pytest.fixture
async def session(unit_database: Database) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that is rolled back when the test ends: each unit test sees
    only what it made. Commits inside become savepoints."""
    async with unit_database.write_engine.connect() as connection:
        transaction = await connection.begin()
        db = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield db
        finally:
            await db.close()
            await transaction.rollback()
