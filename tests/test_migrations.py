"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from propbridge import schema  # noqa: F401
from propbridge.db.base import Base
from propbridge.db.engine import Database
from propbridge.db.migrate import alembic_config, upgrade_database
from propbridge.integrations.models import Integration
from tests.conftest import fresh_postgres


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


def _claims_after_upgrade(url: str) -> list[tuple[str, str]]:
    """Writes recorded before 0009 (two using one reference, the first rejected; a retry
    re-sending it; another integration's, rejected), then the upgrade: the references it claims
    (each by the first write ResMan did not reject, else the first)."""

    async def run() -> list[tuple[str, str]]:
        database = Database(url)
        config = alembic_config(url)

        def to(revision: str) -> Any:
            def upgrade(connection: Connection) -> None:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)

            return upgrade

        async with database.write_engine.begin() as connection:
            await connection.run_sync(to("0008"))
            for integration_id in ("i1", "i2"):
                await connection.execute(
                    insert(Integration).values(
                        id=integration_id,
                        name=integration_id,
                        vendor="RESMAN",
                        base_url=None,
                        credentials_ciphertext=b"x",
                    )
                )
            for n, (integration, retry_of, status) in enumerate(
                [
                    ("i1", None, "REJECTED"),
                    ("i1", None, "POSTED"),
                    ("i1", "w0", "POSTED"),
                    ("i2", None, "REJECTED"),
                ]
            ):
                await connection.execute(
                    text(
                        "INSERT INTO write_requests (id, integration_id, operation, "
                        "request_body, body_hash, dedupe_key, job_id, errors, retry_of, "
                        "created_at, updated_at) VALUES (:id, :i, 'resident_charge', '{}', 'h', "
                        ":d, :job, '[]', :retry, :at, :at)"
                    ),
                    {
                        "id": f"w{n}",
                        "i": integration,
                        "d": f"d{n}",
                        "job": f"job{n}",
                        "retry": retry_of,
                        "at": datetime(2026, 11, 1, tzinfo=UTC),
                    },
                )
                await connection.execute(
                    text(
                        "INSERT INTO write_items (id, write_request_id, position, kind, status, "
                        "reference_number, batch_id, amount_in_cents, x_property_id, "
                        "x_lease_id, upstream) VALUES (:id, :w, 0, 'charge', :status, 'R1', "
                        "'B1', 100, 'p', 'l', '{}')"
                    ),
                    {"id": f"item{n}", "w": f"w{n}", "status": status},
                )
            await connection.run_sync(to("head"))
            rows = await connection.execute(
                text("SELECT reference_key, job_id FROM write_references ORDER BY job_id")
            )
            claims = [(str(key), str(job)) for key, job in rows]
        await database.dispose()
        return claims

    return asyncio.run(run())


def _claimed(claims: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(key.replace("\x1f", "|"), job) for key, job in claims]


def test_upgrading_claims_the_references_already_sent_on_sqlite(tmp_path: Path) -> None:
    claims = _claims_after_upgrade(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    assert _claimed(claims) == [("i1|B1|R1", "job1"), ("i2|B1|R1", "job3")]


def test_upgrading_claims_the_references_already_sent_on_postgresql() -> None:
    urls = fresh_postgres()
    url = next(urls)
    try:
        claims = _claims_after_upgrade(url)
    finally:
        next(urls, None)
    assert _claimed(claims) == [("i1|B1|R1", "job1"), ("i2|B1|R1", "job3")]
