"""Runs the Alembic migrations of the package against a `Database`, and tells where a database
stands against them.

Schema changes only here; the data a revision moves is the revision's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from propbridge.db.engine import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Decrypter(Protocol):
    """What opens an integration's stored credentials (the deployment's `CredentialCipher`)."""

    def decrypt(self, integration_id: str, ciphertext: bytes) -> dict[str, Any]: ...


MIGRATION_LOCK = 7_300_211_001


class UnknownRevisionError(RuntimeError):
    """The database carries a revision this propbridge does not have (a newer one migrated it)."""

    def __init__(self, revision: str, head: str | None) -> None:
        super().__init__(
            f"the database schema is at revision {revision}, which this propbridge does not "
            f"know (its newest is {head})"
        )
        self.revision = revision


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str | None:
    """The newest revision this propbridge ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def pending_revisions(current: str | None, target: str = "head") -> list[str]:
    """The revisions an upgrade from `current` (None: an empty database) to `target` applies,
    oldest first.

    Raises UnknownRevisionError when `current` is not one of ours."""
    script = ScriptDirectory.from_config(alembic_config())
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise UnknownRevisionError(current, script.get_current_head())
    return [r.revision for r in script.iterate_revisions(target, current or "base")][::-1]


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(database: Database) -> str | None:
    """The database's revision (None: no schema yet), read without changing anything."""
    async with database.read_engine.connect() as connection:
        return await connection.run_sync(_revision_of)


async def upgrade_database(
    database: Database, cipher: Decrypter | None = None, target: str = "head"
) -> list[str]:
    """Bring the schema to the newest revision (or to `target`: tests and benchmarks plant
    older data), in one transaction; the revisions applied, oldest first (none when it was
    there). `cipher` (the deployment's `CredentialCipher`) opens stored credentials for the
    upgrades that must read them: without it, such an upgrade of a database that holds
    integrations fails, and nothing is changed."""
    config = alembic_config(database.url)

    def run(connection: Connection) -> list[str]:
        pending = pending_revisions(_revision_of(connection), target)
        if pending:
            config.attributes["connection"] = connection
            config.attributes["cipher"] = cipher
            command.upgrade(config, target)
        return pending

    async with database.write_engine.begin() as connection:
        if database.dialect == "postgresql":
            # Several processes may start at once; one migrates, the others wait and find it done.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        return await connection.run_sync(run)
