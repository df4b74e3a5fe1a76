"""The floor of one worker's delivery of queued charges (used by `bench_writes.py`).

What delivering the charges costs without propbridge's machinery. On a copy of the run's
database, with the writes the worker delivered put back as they were queued, `concurrency` tasks
(the worker's setting) each take the next charge and do what a delivery does, through the
database driver alone (sqlite3 or asyncpg, raw SQL, each step its own transaction as in the
worker): claim the job and log its attempt, commit the dispatched mark, POST the MITS document
(built beforehand by the product's own builder) with a bare `httpx.AsyncClient`, then record the
outcome and end the job. The sandbox is a fresh one with the same seed (the same ids, and an
empty Partner Transactions, as the worker's started), so its own work per post is the same. It
runs on uvloop, as the worker does, with httpx as propbridge's ResMan client runs it.

Besides charges/s, the CPU each side spends per charge (the worker's process, the floor's loop;
neither the sandbox's nor the database server's): on a machine other loads share, a steadier
figure than the rates.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvloop

from propbridge.config import Settings
from propbridge.connectors.base import TransactionToPost
from propbridge.connectors.resman.connector import POST_METHOD
from propbridge.connectors.resman.mits import build_resident_transactions
from propbridge.db.ids import new_id

sys.path.insert(0, str(Path(__file__).parent))
from harness import PROPBRIDGE, SANDBOX_CREDENTIALS, Engine, free_port, process, wait_http

COPY = "floor_delivery"
# The writes the worker delivered, one row per write (the bench posts single charges), in the
# order the worker claims them. Read before the reset: jobs other loads queued are left alone.
DELIVERED = (
    "SELECT j.id, r.id, i.kind, i.reference_number, i.batch_id, i.amount_in_cents, "
    "i.x_property_id, i.upstream FROM jobs j JOIN write_requests r ON r.job_id = j.id "
    "JOIN write_items i ON i.write_request_id = r.id "
    "WHERE j.kind = 'write' AND j.state = 'succeeded' ORDER BY j.run_after, j.id, i.position"
)
# Those writes as they were queued (the jobs last: the others find them by their state).
DELIVERED_JOBS = "SELECT id FROM jobs WHERE kind = 'write' AND state = 'succeeded'"
RESET = [
    "UPDATE write_items SET status = 'PENDING', error = NULL WHERE write_request_id IN "
    "(SELECT id FROM write_requests WHERE job_id IN "
    "(SELECT id FROM jobs WHERE kind = 'write' AND state = 'succeeded'))",
    "UPDATE write_requests SET dispatched_at = NULL, finished_at = NULL WHERE job_id IN "
    "(SELECT id FROM jobs WHERE kind = 'write' AND state = 'succeeded')",
    "DELETE FROM job_attempts WHERE job_id IN "
    "(SELECT id FROM jobs WHERE kind = 'write' AND state = 'succeeded')",
    "UPDATE jobs SET state = 'queued', attempt = 0, locked_by = NULL, lease_expires_at = NULL, "
    "finished_at = NULL, result = NULL, last_error = NULL WHERE kind = 'write' "
    "AND state = 'succeeded'",
]
# One delivery's statements in the worker's order ({n}: the driver's n-th placeholder).
CLAIM = [
    "UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = {0}, "
    "lease_expires_at = {1}, updated_at = {2} WHERE id = {3}",
    "INSERT INTO job_attempts (id, job_id, attempt, worker, started_at) "
    "VALUES ({0}, {1}, {2}, {3}, {4})",
]
DISPATCHED = "UPDATE write_requests SET dispatched_at = {0} WHERE id = {1}"
OUTCOME = [
    "UPDATE write_items SET status = 'ACCEPTED', error = NULL WHERE write_request_id = {0}",
    "UPDATE write_requests SET errors = {0}, finished_at = {1}, updated_at = {1} WHERE id = {2}",
    "UPDATE jobs SET state = 'succeeded', result = NULL, finished_at = {0}, updated_at = {0}, "
    "lease_expires_at = NULL, locked_by = NULL, last_error = NULL WHERE id = {1}",
    "UPDATE job_attempts SET finished_at = {0}, outcome = 'succeeded', error = NULL "
    "WHERE job_id = {1} AND attempt = {2}",
]
LEASE = timedelta(seconds=20)
WORKER = "floor"


class Charge:
    """One queued charge: its job, its write and its document (built before the clock runs)."""

    def __init__(self, row: Any) -> None:
        self.job_id, self.request_id = str(row[0]), str(row[1])
        self.attempt = 1
        upstream = row[7] if isinstance(row[7], dict) else json.loads(row[7])
        self.x_property_id = str(row[6])
        self.document = build_resident_transactions(
            self.x_property_id,
            [
                TransactionToPost(
                    kind=row[2],
                    reference_number=row[3],
                    batch_id=row[4],
                    transaction_date=upstream["transaction_date"],
                    description=upstream["description"],
                    notes=upstream["notes"],
                    amount_in_cents=int(row[5]),
                    upstream=upstream,
                )
            ],
        )


Steps = list[tuple[str, tuple[Any, ...]]]


def _claim(charge: Charge, now: Any, lease: Any) -> Steps:
    return [
        (CLAIM[0], (WORKER, lease, now, charge.job_id)),
        (CLAIM[1], (new_id(), charge.job_id, charge.attempt, WORKER, now)),
    ]


def _outcome(charge: Charge, now: Any) -> Steps:
    return [
        (OUTCOME[0], (charge.request_id,)),
        (OUTCOME[1], ("[]", now, charge.request_id)),
        (OUTCOME[2], (now, charge.job_id)),
        (OUTCOME[3], (now, charge.job_id, charge.attempt)),
    ]


class SqliteSteps:
    """sqlite3 on the event loop's thread, the cheapest way to SQLite (WAL, synchronous=NORMAL,
    BEGIN IMMEDIATE, as propbridge opens it). A step never awaits, so one connection serves
    every task."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA busy_timeout=30000")

    @staticmethod
    def _moment(value: datetime) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy stores it on SQLite

    async def run(self, steps: Steps) -> None:
        self.connection.execute("BEGIN IMMEDIATE")
        for sql, parameters in steps:
            self.connection.execute(sql.format(*[f"?{n}" for n in range(1, 6)]), parameters)
        self.connection.execute("COMMIT")

    async def claim(self, charge: Charge) -> None:
        now = datetime.now(UTC)
        await self.run(_claim(charge, self._moment(now), self._moment(now + LEASE)))

    async def dispatched(self, charge: Charge) -> None:
        await self.run([(DISPATCHED, (self._moment(datetime.now(UTC)), charge.request_id))])

    async def outcome(self, charge: Charge) -> None:
        await self.run(_outcome(charge, self._moment(datetime.now(UTC))))

    async def close(self) -> None:
        self.connection.close()


class PostgresSteps:
    """asyncpg, a pool as large as the concurrency (statements prepared once per connection)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @staticmethod
    async def open(database: str, size: int) -> PostgresSteps:
        import asyncpg

        url = f"postgresql://postgres@127.0.0.1:5432/{database}"
        return PostgresSteps(await asyncpg.create_pool(url, min_size=size, max_size=size))

    async def run(self, steps: Steps) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            for sql, parameters in steps:
                await connection.execute(sql.format(*[f"${n}" for n in range(1, 6)]), *parameters)

    async def claim(self, charge: Charge) -> None:
        now = datetime.now(UTC)
        await self.run(_claim(charge, now, now + LEASE))

    async def dispatched(self, charge: Charge) -> None:
        await self.run([(DISPATCHED, (datetime.now(UTC), charge.request_id))])

    async def outcome(self, charge: Charge) -> None:
        await self.run(_outcome(charge, datetime.now(UTC)))

    async def close(self) -> None:
        await self.pool.close()


def _copy(engine: Engine, workdir: Path) -> Callable[[str], list[Any]]:
    """A copy of the run's database (nothing may hold a PostgreSQL one open); its query."""
    if engine.pg_name is None:
        path = workdir / f"{COPY}.db"
        with sqlite3.connect(workdir / "propbridge.db") as source:
            target = sqlite3.connect(path)
            source.backup(target)
            target.close()

        def query(sql: str) -> list[Any]:
            with sqlite3.connect(path) as connection:
                return connection.execute(sql).fetchall()

        return query
    name = f"{engine.pg_name}_{COPY}"
    asyncio.run(engine._pg(f'CREATE DATABASE "{name}" TEMPLATE "{engine.pg_name}"'))
    return lambda sql: asyncio.run(engine._pg(sql, name))


async def _deliver_all(
    steps: SqliteSteps | PostgresSteps, charges: list[Charge], sandbox_url: str, concurrency: int
) -> list[float]:
    """Every charge delivered by `concurrency` tasks; when each delivery ended."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    auth = {
        "IntegrationPartnerID": SANDBOX_CREDENTIALS["integrationPartnerId"],
        "ApiKey": SANDBOX_CREDENTIALS["apiKey"],
        "AccountID": SANDBOX_CREDENTIALS["accountId"],
    }
    queue = iter(charges)
    ended: list[float] = []
    refused: list[str] = []
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def deliver() -> None:
            for charge in queue:
                await steps.claim(charge)
                await steps.dispatched(charge)
                response = await client.post(
                    f"{sandbox_url}/{POST_METHOD}",
                    data={**auth, "PropertyID": charge.x_property_id, "Xml": charge.document},
                    headers={"Accept": "application/xml"},
                )
                if b"<Status>Success</Status>" not in response.content:
                    refused.append(response.text[:300])
                await steps.outcome(charge)
                ended.append(time.time())

        try:
            await asyncio.gather(*(deliver() for _ in range(concurrency)))
        finally:
            await steps.close()
    if refused:
        raise RuntimeError(f"the floor's sandbox refused {len(refused)}: {refused[0]}")
    return ended


def delivery_floor(engine: Engine, workdir: Path, sandbox_args: list[str]) -> dict[str, Any]:
    """Charges/s of the floor, measured as the worker's are (deliveries over the span from the
    first to the last one ended). Run it once nothing holds the database open."""
    concurrency = Settings().worker_concurrency
    query = _copy(engine, workdir)
    try:
        charges = [Charge(row) for row in query(DELIVERED)]
        for sql in RESET:
            query(sql)
        if not charges:
            return {"floor_rps": 0.0, "floor_delivered": 0, "floor_cpu_ms": 0.0}
        port = free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        with process(
            [*PROPBRIDGE, "sandbox", "resman", "--port", str(port), *sandbox_args],
            {"PROPBRIDGE_LOG_LEVEL": "WARNING"},
            workdir / "floor-sandbox.log",
        ):
            wait_http(f"{sandbox_url}/_sandbox/info", timeout=300)

            async def run() -> list[float]:
                steps: SqliteSteps | PostgresSteps
                if engine.pg_name is None:
                    steps = SqliteSteps(workdir / f"{COPY}.db")
                else:
                    steps = await PostgresSteps.open(f"{engine.pg_name}_{COPY}", concurrency)
                return await _deliver_all(steps, charges, sandbox_url, concurrency)

            used = time.process_time()
            ended = uvloop.run(run())  # the loop the worker runs on
            used = time.process_time() - used
            in_resman = httpx.get(f"{sandbox_url}/_sandbox/info").json()["counts"][
                "partner_transactions"
            ]
        done = query("SELECT COUNT(*) FROM jobs WHERE kind = 'write' AND state = 'succeeded'")[0][0]
        if not done == len(charges) == in_resman:
            raise RuntimeError(
                f"floor: {done} jobs ended, {len(charges)} charges, {in_resman} in ResMan"
            )
    finally:
        if engine.pg_name is not None:
            asyncio.run(engine._pg(f'DROP DATABASE IF EXISTS "{engine.pg_name}_{COPY}"'))
    seconds = max(max(ended) - min(ended), 1e-6)
    return {
        "floor_rps": len(ended) / seconds,
        "floor_delivered": len(ended),
        "floor_cpu_ms": 1000 * used / len(ended),
    }


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
