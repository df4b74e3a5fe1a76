"""Benchmark of the upgrade that claims references per PMS account (migration 0010), on a
database of 100,000 writes.

For each engine: a database at revision 0008 holding 20 integrations (on 4 ResMan accounts, with
credentials encrypted as a deployment stores them) and 100,000 writes of one charge each, with
their jobs: most references unique, 1% reused by another integration of the same account, 5% of
the writes retries. It then times the upgrade to 0009 (its claims made in one INSERT … SELECT:
the floor, the same rows re-keyed by SQL alone) and to 0010 (credentials decrypted, references
normalized in Python, items widened, claims re-made, clashes marked), and counts what 0010 found.
Run it with `make bench`, or alone: `python bench/bench_upgrade.py [sqlite] [postgresql]`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from harness import Engine

from propbridge.db.engine import Database
from propbridge.db.migrate import upgrade_database
from propbridge.integrations.credentials import (
    CredentialCipher,
    StaticKeyProvider,
    decode_key,
    generate_key_text,
)

WRITES = int(os.environ.get("BENCH_UPGRADE_WRITES", "100000"))
INTEGRATIONS = 20
ACCOUNTS = 4
CHUNK = 5000
START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ("ACCEPTED", "POSTED", "REJECTED", "OUTCOME_UNKNOWN")


def _rows(n: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Write n: its request, item and job. Every 100th reuses the reference of the write
    before it from the next integration of the same account; every 20th retries the one
    before."""
    integration = f"i{n % INTEGRATIONS}"
    reference = f"REF-{n:07d}"
    if n % 100 == 1:
        reference = f"ref-{n - 1:07d}"  # another case: the same reference
        integration = f"i{(n - 1 + ACCOUNTS) % INTEGRATIONS}"  # same account, other integration
    retry_of = f"w{n - 1}" if n % 20 == 19 else None
    at = START + timedelta(seconds=n)
    request = {
        "id": f"w{n}",
        "integration_id": integration,
        "operation": "resident_charge",
        "request_body": "{}",
        "body_hash": "h",
        "dedupe_key": f"d{n}",
        "job_id": f"job{n}",
        "errors": "[]",
        "retry_of": retry_of,
        "retry_root": retry_of,
        "finished_at": at,
        "created_at": at,
        "updated_at": at,
    }
    item = {
        "id": f"item{n}",
        "write_request_id": f"w{n}",
        "position": 0,
        "kind": "charge",
        "status": STATUSES[n % len(STATUSES)],
        "reference_number": reference,
        "batch_id": f"B{n // 1000}",
        "amount_in_cents": 10_000 + n,
        "x_property_id": "p",
        "x_lease_id": f"l{n % 500}",
        "upstream": '{"transaction_date": "2026-11-02"}',
    }
    job = {
        "id": f"job{n}",
        "kind": "write",
        "integration_id": integration,
        "payload": "{}",
        "state": "succeeded",
        "attempt": 1,
        "max_attempts": 5,
        "run_after": at,
        "created_at": at,
        "updated_at": at,
    }
    return request, item, job


def _insert(table: str, rows: list[dict[str, Any]]) -> Any:
    columns = list(rows[0])
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return text(f"INSERT INTO {table} ({names}) VALUES ({values})")  # noqa: S608 (bench data)


async def _plant(database: Database, cipher: CredentialCipher) -> None:
    await upgrade_database(database, target="0008")
    async with database.write_engine.begin() as connection:
        for number in range(INTEGRATIONS):
            integration_id = f"i{number}"
            credentials = {
                "integrationPartnerId": "partner",
                "apiKey": "key",
                "accountId": str(4000 + number % ACCOUNTS),
            }
            await connection.execute(
                text(
                    "INSERT INTO integrations (id, name, vendor, base_url, credentials_ciphertext, "
                    "active, sync_frequency, sync_cadence, max_request_frequency, "
                    "max_request_cadence, max_job_concurrency, new_properties_are_enabled, "
                    "created_at, updated_at) VALUES (:id, :id, 'RESMAN', 'https://api.test', :c, "
                    "false, 12, 'HOUR', 10, 'SECOND', 4, true, :at, :at)"
                ),
                {
                    "id": integration_id,
                    "c": cipher.encrypt(integration_id, credentials),
                    "at": START,
                },
            )
    for start in range(0, WRITES, CHUNK):
        rows = [_rows(n) for n in range(start, min(start + CHUNK, WRITES))]
        async with database.write_engine.begin() as connection:
            for index, table in enumerate(("jobs", "write_requests", "write_items")):
                chunk = [row[(2, 0, 1)[index]] for row in rows]
                await connection.execute(_insert(table, chunk), chunk)


async def _timed_upgrade(database: Database, revision: str, cipher: CredentialCipher) -> float:
    started = time.perf_counter()
    await upgrade_database(database, cipher, target=revision)
    return time.perf_counter() - started


async def _measure(engine: Engine) -> dict[str, Any]:
    database = Database(engine.url)
    cipher = CredentialCipher(StaticKeyProvider(decode_key(generate_key_text())))
    try:
        await _plant(database, cipher)
        floor = await _timed_upgrade(database, "0009", cipher)
        ours = await _timed_upgrade(database, "0010", cipher)
        async with database.read_engine.connect() as connection:
            claims = (
                await connection.execute(text("SELECT count(*) FROM write_references"))
            ).scalar()
            held = (
                await connection.execute(
                    text("SELECT count(*) FROM write_items WHERE held_by_job_id IS NOT NULL")
                )
            ).scalar()
    finally:
        await database.dispose()
    return {"engine": engine.name, "floor": floor, "ours": ours, "claims": claims, "held": held}


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-upgrade-{name}-"))
    engine = Engine(name, workdir)
    try:
        return asyncio.run(_measure(engine))
    finally:
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    results = [run_engine(name) for name in engines]
    print(
        f"\nUpgrade to per-account reference claims — {WRITES:,} writes, {os.cpu_count()} cores\n"
    )
    header = (
        f"{'engine':<11}{'0010 (ours)':>13}{'floor: 0009 by SQL':>21}{'ratio':>8}"
        f"{'claims made':>13}{'clashes held':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['engine']:<11}{r['ours']:>11.2f} s{r['floor']:>19.2f} s"
            f"{r['ours'] / r['floor']:>7.1f}x{r['claims']:>13,}{r['held']:>14,}"
        )
    print(
        "\nfloor: the previous upgrade over the same rows, its claims made by one INSERT … SELECT; "
        "0010 also decrypts each integration's credentials, normalizes every reference in "
        "Python, widens the items' amounts and re-makes the claims\n"
    )


if __name__ == "__main__":
    main()
