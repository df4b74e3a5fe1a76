"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from propbridge import schema  # noqa: F401
from propbridge.db.base import Base
from propbridge.db.engine import Database
from propbridge.db.migrate import upgrade_database


def _differences(url: str) -> list[Any]:
    async def run() -> list[Any]:
        database = Database(url)
        await upgrade_database(database)
        await upgrade_database(database)  # a second run is a no-op

        def compare(connection: Connection) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        async with database.write_engine.connect() as connection:
            diffs = await connection.run_sync(compare)
        await database.dispose()
        return diffs

    return asyncio.run(run())


def test_models_match_migrations_on_sqlite(tmp_path: Path) -> None:
    assert _differences(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}") == []


def test_models_match_migrations_on_postgresql(postgres_url: str) -> None:
    assert _differences(postgres_url) == []


def test_every_synced_table_is_registered_once() -> None:
    """The registry lists every table of synced records (and nothing else), each once."""
    from propbridge.catalog import SYNCED_MODELS
    from propbridge.db.base import Base
    from propbridge.db.synced import SyncedRecordMixin

    synced_tables = {
        mapper.class_.__tablename__
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, SyncedRecordMixin)
    }
    registered = [model.table.__tablename__ for model in SYNCED_MODELS]
    assert sorted(registered) == sorted(synced_tables)
    assert len(set(registered)) == len(registered)
