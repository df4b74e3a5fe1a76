"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from propbridge import schema  # noqa: F401
from propbridge.db.base import Base
from propbridge.db.engine import Database
from propbridge.db.migrate import current_revision, upgrade_database
from propbridge.integrations.credentials import (
    ConfigurationError,
    CredentialCipher,
    StaticKeyProvider,
    decode_key,
    generate_key_text,
)
from propbridge.integrations.models import Integration
from tests.conftest import database_of_its_own


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


WRITE_ROW = text(
    "INSERT INTO write_requests (id, integration_id, operation, request_body, body_hash, "
    "dedupe_key, job_id, errors, retry_of, created_at, updated_at) VALUES (:id, :i, "
    "'resident_charge', '{}', 'h', :d, :job, '[]', :retry, :at, :at)"
)
ITEM_ROW = text(
    "INSERT INTO write_items (id, write_request_id, position, kind, status, reference_number, "
    "batch_id, amount_in_cents, x_property_id, x_lease_id, upstream) VALUES (:id, :w, 0, "
    "'charge', :status, :ref, :batch, 100, 'p', 'l', '{}')"
)


async def _plant_write(
    connection: Any,
    n: int,
    integration: str,
    status: str,
    reference: str = "R1",
    batch: str = "B1",
    retry_of: str | None = None,
    job_state: str = "succeeded",
) -> None:
    """Write `w{n}` (job `job{n}`, made on day n of November) with one item."""
    at = datetime(2026, 11, 1 + n, tzinfo=UTC)
    await connection.execute(
        WRITE_ROW,
        {
            "id": f"w{n}",
            "i": integration,
            "d": f"d{n}",
            "job": f"job{n}",
            "retry": retry_of,
            "at": at,
        },
    )
    await connection.execute(
        ITEM_ROW,
        {"id": f"item{n}", "w": f"w{n}", "status": status, "ref": reference, "batch": batch},
    )
    await connection.execute(
        text(
            "INSERT INTO jobs (id, kind, integration_id, payload, state, attempt, max_attempts, "
            "run_after, created_at, updated_at) VALUES (:id, 'write', :i, '{}', :state, 1, 5, "
            ":at, :at, :at)"
        ),
        {"id": f"job{n}", "i": integration, "state": job_state, "at": at},
    )


def _claims_after_upgrade(url: str) -> list[tuple[str, str]]:
    """Writes recorded before 0009 (two using one reference, the first rejected; a retry
    re-sending it; another integration's, rejected), then the upgrade to 0009: the references
    it claims (each by the first write ResMan did not reject, else the first)."""

    async def run() -> list[tuple[str, str]]:
        database = Database(url)
        await upgrade_database(database, target="0008")
        async with database.write_engine.begin() as connection:
            for integration_id in ("i1", "i2"):
                await connection.execute(
                    insert(Integration.__table__).values(  # type: ignore[arg-type]
                        id=integration_id,
                        name=integration_id,
                        vendor="RESMAN",
                        base_url=None,
                        credentials_ciphertext=b"x",
                        created_at=datetime(2026, 11, 1, tzinfo=UTC),
                        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
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
                await _plant_write(connection, n, integration, status, retry_of=retry_of)
        await upgrade_database(database, target="0009")
        async with database.read_engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT reference_key, job_id FROM write_references ORDER BY job_id")
            )
            claims = [(str(key), str(job)) for key, job in rows]
        await database.dispose()
        return claims

    return asyncio.run(run())


def _claimed(claims: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(key.replace("\x1f", "|"), job) for key, job in claims]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_upgrading_claims_the_references_already_sent(
    engine: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for url in database_of_its_own(engine, tmp_path_factory):
        claims = _claims_after_upgrade(url)
    assert _claimed(claims) == [("i1|B1|R1", "job1"), ("i2|B1|R1", "job3")]


CIPHER = CredentialCipher(StaticKeyProvider(decode_key(generate_key_text())))
SANDBOX = {"integrationPartnerId": "p", "apiKey": "k", "accountId": "4001"}


async def _plant_account_clash(connection: Any) -> None:
    """At 0009: three integrations, two of them on one ResMan account written two ways, and
    writes sharing a reference in case, space, normal form and batch variants; a schedule far
    longer than a year."""
    for integration_id, base_url, account in (
        ("i1", "http://sandbox.test:80/", "4001"),
        ("i2", "HTTP://Sandbox.test", " 4001"),
        ("i3", "http://sandbox.test", "4002"),
    ):
        await connection.execute(
            insert(Integration.__table__).values(  # type: ignore[arg-type]
                id=integration_id,
                name=integration_id,
                vendor="RESMAN",
                base_url=base_url,
                credentials_ciphertext=CIPHER.encrypt(
                    integration_id, {**SANDBOX, "accountId": account}
                ),
                sync_frequency=100_000,
                sync_cadence="HOUR",
                created_at=datetime(2026, 11, 1, tzinfo=UTC),
                updated_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )
    await connection.execute(
        text(
            "INSERT INTO schedules (id, integration_id, kind, payload, interval_seconds, active, "
            "next_run_at, created_at, updated_at) VALUES ('s1', 'i1', 'sync', '{}', 360000000, "
            ":t, :at, :at, :at)"
        ),
        {"t": True, "at": datetime(2026, 11, 1, tzinfo=UTC)},
    )
    for n, integration, status, reference, batch, retry_of, job_state in (
        (0, "i1", "REJECTED", "Ref-1", "B1", None, "failed"),  # first, but rejected
        (1, "i2", "ACCEPTED", "ref-1", "B2", None, "succeeded"),  # holds: other batch, case
        (2, "i1", "OUTCOME_UNKNOWN", " REF-1", "B3", None, "failed"),  # held by w1
        (3, "i3", "ACCEPTED", "ref-1", "B1", None, "succeeded"),  # another account: its own
        (4, "i1", "PENDING", "Caf\u00e9", "B1", None, "queued"),  # holds Café
        (5, "i2", "PENDING", "CAFE\u0301", "B9", None, "queued"),  # held: would be sent
        (6, "i2", "ACCEPTED", "ref-1", "B2", "w1", "succeeded"),  # a retry claims nothing
        (7, "i1", "PENDING", "R-7", "B1", None, "queued"),  # never sent: loses to w8
        (8, "i2", "ACCEPTED", "r-7", "B1", None, "succeeded"),  # ResMan took it: holds
        (9, "i1", "OUTCOME_UNKNOWN", "R-9", "B1", None, "failed"),  # maybe: loses to w10
        (10, "i2", "POSTED", "r-9", "B1", None, "succeeded"),  # found in the ledger: holds
        (11, "i1", "REJECTED", "R-11", "B1", None, "failed"),
        (12, "i2", "ACCEPTED", "r-11", "B1", None, "succeeded"),  # holds
        (13, "i1", "PENDING", "R-11", "B1", "w11", "queued"),  # w11's queued retry: held too
    ):
        await _plant_write(
            connection, n, integration, status, reference, batch, retry_of, job_state
        )
    await connection.execute(
        text("UPDATE write_requests SET finished_at = created_at WHERE id = 'w1'")
    )
    await connection.execute(text("UPDATE write_requests SET retry_root = retry_of"))


def _upgrade_with_a_clash(url: str) -> dict[str, Any]:
    """0009 with a planted clash, an upgrade without the key (refused, nothing changed), then
    with it: what the upgrade left."""

    async def run() -> dict[str, Any]:
        database = Database(url)
        await upgrade_database(database, target="0009")
        async with database.write_engine.begin() as connection:
            await _plant_account_clash(connection)
        refused: BaseException | None = None
        try:
            await upgrade_database(database)
        except ConfigurationError as error:
            refused = error
        before = await current_revision(database)
        await upgrade_database(database, CIPHER)
        async with database.read_engine.connect() as connection:
            claims = sorted(
                (account[:6], reference, job)
                for account, reference, job in await connection.execute(
                    text("SELECT account_key, reference, job_id FROM write_references")
                )
            )
            accounts = dict(
                (await connection.execute(text("SELECT id, account_key FROM integrations"))).all()
            )
            held = dict(
                (
                    await connection.execute(
                        text("SELECT id, held_by_job_id FROM write_items ORDER BY id")
                    )
                ).all()
            )
            accepted = dict(
                (await connection.execute(text("SELECT id, accepted_at FROM write_items"))).all()
            )
            claimed_in = dict(
                (await connection.execute(text("SELECT id, account_key FROM write_requests"))).all()
            )
            interval = (
                await connection.execute(text("SELECT interval_seconds FROM schedules"))
            ).scalar_one()
            setting = (
                await connection.execute(
                    text("SELECT sync_frequency, sync_cadence FROM integrations WHERE id = 'i1'")
                )
            ).one()
        await database.dispose()
        return {
            "refused": refused,
            "revision_before": before,
            "claims": claims,
            "accounts": accounts,
            "held": held,
            "accepted": accepted,
            "claimed_in": claimed_in,
            "interval": interval,
            "setting": tuple(setting),
        }

    return asyncio.run(run())


def _check_upgrade_with_a_clash(found: dict[str, Any]) -> None:
    assert isinstance(found["refused"], ConfigurationError)
    assert found["revision_before"] == "0009"  # refused whole: nothing half done
    accounts = found["accounts"]
    assert accounts["i1"] == accounts["i2"] != accounts["i3"]
    shared, other = accounts["i1"][:6], accounts["i3"][:6]
    assert found["claims"] == sorted(
        [
            (shared, "café", "job4"),
            (shared, "ref-1", "job1"),
            (other, "ref-1", "job3"),
            (shared, "r-7", "job8"),
            (shared, "r-9", "job10"),
            (shared, "r-11", "job12"),
        ]
    )
    held = {item: job for item, job in found["held"].items() if job is not None}
    assert held == {
        "item0": "job1",
        "item2": "job1",
        "item5": "job4",
        "item7": "job8",
        "item9": "job10",
        "item11": "job12",
        "item13": "job12",
    }
    integration_of = {0: "i1", 1: "i2", 3: "i3", 13: "i1"}
    for n, integration in integration_of.items():
        assert found["claimed_in"][f"w{n}"] == accounts[integration]
    assert found["accepted"]["item1"] is not None and found["accepted"]["item0"] is None
    assert found["interval"] == 365 * 86400
    assert found["setting"] == (365, "DAY")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_upgrading_claims_references_per_account(
    engine: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for url in database_of_its_own(engine, tmp_path_factory):
        found = _upgrade_with_a_clash(url)
    _check_upgrade_with_a_clash(found)
