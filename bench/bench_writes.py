"""Benchmark of the seed path: POST /v1/resident-charges/resman/ and charge delivery to ResMan.

For each engine it starts, as separate processes, a seeded ResMan sandbox and `propbridge serve
--no-worker`, loads them with wrk (32 connections) — first `GET /healthz` (the floor: the same
server doing nothing), then the POST — checks that every acknowledged charge was committed, then
starts one `propbridge worker` and measures how fast it delivers the queued charges to the sandbox.
Prints one table. Run it with `make bench`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
PROPBRIDGE = [sys.executable, "-m", "propbridge"]
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=out)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wrk(url: str, script: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{SECONDS}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / script),
            url,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    result["rps"] = result["requests"] / result["seconds"]
    return result


class Engine:
    """Where the run's database lives and how to count rows in it."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.pg_name: str | None = None
        if name == "sqlite":
            self.url = f"sqlite+aiosqlite:///{workdir / 'propbridge.db'}"
        else:
            self.pg_name = f"propbridge_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(self._pg(f'CREATE DATABASE "{self.pg_name}"'))
            self.url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.pg_name}"

    async def _pg(self, sql: str, database: str = "postgres") -> list[Any]:
        import asyncpg

        connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}")
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()

    def query(self, sql: str) -> list[Any]:
        if self.pg_name:
            return asyncio.run(self._pg(sql, self.pg_name))
        with sqlite3.connect(self.workdir / "propbridge.db") as connection:
            return connection.execute(sql).fetchall()

    def drop(self) -> None:
        if self.pg_name:
            asyncio.run(self._pg(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))


def parse_time(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-{name}-"))
    engine = Engine(name, workdir)
    env = {
        "PROPBRIDGE_DATABASE_URL": engine.url,
        "PROPBRIDGE_DATA_DIR": str(workdir),
        "PROPBRIDGE_ENCRYPTION_KEY": "8J0zJwqvYl0k0Yw7v3m2rX9pS1aT5bU6cD7eF8gH9iA=",
        "PROPBRIDGE_LOG_LEVEL": "WARNING",
    }
    sandbox_port, api_port = free_port(), free_port()
    sandbox_url, api_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{api_port}"
    try:
        with (
            process(
                [
                    *PROPBRIDGE,
                    "sandbox",
                    "resman",
                    "--port",
                    str(sandbox_port),
                    "--properties",
                    "2",
                    "--units",
                    "50",
                    "--months",
                    "2",
                ],
                env,
                workdir / "sandbox.log",
            ),
            process(
                [*PROPBRIDGE, "serve", "--no-worker", "--port", str(api_port)],
                env,
                workdir / "api.log",
            ),
        ):
            wait_http(f"{sandbox_url}/_sandbox/info")
            wait_http(f"{api_url}/healthz")
            token = (
                subprocess.run(
                    [*PROPBRIDGE, "api-keys", "create", "--name", "bench"],
                    env={**os.environ, **env},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            http = httpx.Client(
                base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
            integration = http.post(
                "/v1/admin/integrations/",
                json={
                    "integration_vendor": "RESMAN",
                    "name": "bench",
                    "base_url": sandbox_url,
                    "credentials": {
                        "integrationPartnerId": "1000",
                        "accountId": "400",
                        "apiKey": "0123456789abcdef0123456789abcdef",
                    },
                },
            ).json()["result"]
            subprocess.run(
                [*PROPBRIDGE, "sync", integration["id"]],
                env={**os.environ, **env},
                capture_output=True,
                check=True,
            )
            resident = next(
                r
                for r in http.get("/v1/residents/", params={"limit": 250}).json()["results"]
                if r["x_lease_id"]
            )
            code = next(
                c
                for c in http.get(
                    "/v1/charge-codes/",
                    params={"property_id": resident["property_id"], "limit": 250},
                ).json()["results"]
                if c["code"] == "PETF"
            )
            body = json.dumps(
                {
                    "integration_id": integration["id"],
                    "resident_id": resident["id"],
                    "charge_code_id": code["id"],
                    "batch_id": "bench",
                    "transaction_date": "2026-11-02T10:00:00Z",
                    "description": "Pet fee",
                    "notes": "bench",
                    "amount_in_cents": 7500,
                    "reference_number": "__REF__",
                }
            )
            floor = wrk(f"{api_url}/healthz", "get.lua", {})
            posts = wrk(api_url, "post_charge.lua", {"BODY_TEMPLATE": body, "TOKEN": token})
            acknowledged = posts["requests"] - posts["non2xx"]
            time.sleep(2)  # requests still in flight when wrk stopped finish and commit
            committed = engine.query("SELECT COUNT(*) FROM write_requests")[0][0]
            queued = engine.query("SELECT COUNT(*) FROM jobs WHERE kind = 'write'")[0][0]
            with process([*PROPBRIDGE, "worker"], env, workdir / "worker.log"):
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:
                    left = engine.query(
                        "SELECT COUNT(*) FROM jobs WHERE kind = 'write' AND "
                        "state IN ('queued', 'running')"
                    )[0][0]
                    if left == 0:
                        break
                    time.sleep(0.5)
            span = engine.query(
                "SELECT MIN(finished_at), MAX(finished_at), COUNT(*) FROM jobs "
                "WHERE kind = 'write' AND state = 'succeeded'"
            )[0]
            delivered = span[2]
            seconds = max(parse_time(span[1]) - parse_time(span[0]), 1e-6) if delivered else 0
            pending = httpx.get(f"{sandbox_url}/_sandbox/info").json()["counts"][
                "partner_transactions"
            ]
            return {
                "engine": name,
                "floor": floor,
                "post": posts,
                "acknowledged": acknowledged,
                "committed": committed,
                "queued": queued,
                "delivered": delivered,
                "delivery_rps": delivered / seconds if seconds else 0.0,
                "in_resman": pending,
            }
    finally:
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    rows = [run_engine(name) for name in engines]
    print(
        f"\nPOST /v1/resident-charges/resman/ — {CONNECTIONS} connections, {SECONDS}s each, "
        f"{os.cpu_count()} cores (load generator, API, sandbox share them)\n"
    )
    header = (
        f"{'engine':<11}{'healthz req/s':>14}{'p50':>8}{'p99':>8}{'POST req/s':>12}"
        f"{'p50':>8}{'p99':>8}{'acked':>8}{'committed':>10}{'deliver/s':>11}{'in ResMan':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        f, p = r["floor"], r["post"]
        print(
            f"{r['engine']:<11}{f['rps']:>14.0f}{f['p50_ms']:>7.1f}m{f['p99_ms']:>7.1f}m"
            f"{p['rps']:>12.0f}{p['p50_ms']:>7.1f}m{p['p99_ms']:>7.1f}m{r['acknowledged']:>8}"
            f"{r['committed']:>10}{r['delivery_rps']:>11.0f}{r['in_resman']:>11}"
        )
    print(
        "\ntargets: POST ≥ 500 req/s with every acknowledged charge committed "
        "(acked == committed); delivery ≥ 200 charges/s by one worker"
    )
    for r in rows:
        lost = max(0, r["acknowledged"] - r["committed"])
        print(
            f"{r['engine']}: POST/floor = {r['post']['rps'] / r['floor']['rps']:.2f}, "
            f"acknowledged-but-not-committed = {lost} (committed also counts requests wrk "
            f"abandoned in flight at the end), delivered {r['delivered']} of {r['queued']} "
            f"queued, {r['in_resman']} pending in the sandbox"
        )


if __name__ == "__main__":
    main()
