"""Shared pieces of the benchmarks: ports, child processes, wrk, the database of a run.

Imported by the bench scripts; measures nothing by itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
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


def wrk_command(
    url: str, script: str, connections: int = CONNECTIONS, seconds: int = SECONDS
) -> list[str]:
    """The wrk command line of one load (two threads; a request's timeout 10 s)."""
    return [
        "wrk",
        "-t",
        "2",
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / script),
        url,
    ]


def wrk_result(stdout: str) -> dict[str, Any]:
    """The JSON summary a bench Lua script prints, with `rps` added."""
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def wrk(
    url: str,
    script: str,
    env: dict[str, str],
    connections: int = CONNECTIONS,
    seconds: int = SECONDS,
) -> dict[str, Any]:
    done = subprocess.run(
        wrk_command(url, script, connections, seconds),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return wrk_result(done.stdout)


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


def peak_rss_mb(pid: int) -> float:
    """The most memory a running process has held (its VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_measured(args: list[str], env: dict[str, str]) -> tuple[str, float]:
    """Run a command to its end; its output and its peak memory (MB, from `wait4`)."""
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{args} failed: {output[-2000:]}")
    return output, usage.ru_maxrss / 1024


def parse_time(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


ENCRYPTION_KEY = "8J0zJwqvYl0k0Yw7v3m2rX9pS1aT5bU6cD7eF8gH9iA="
SANDBOX_CREDENTIALS = {
    "integrationPartnerId": "1000",
    "accountId": "400",
    "apiKey": "0123456789abcdef0123456789abcdef",
}


class Stack:
    """A sandbox and an API (no worker) as child processes, with a key and an integration."""

    def __init__(
        self,
        env: dict[str, str],
        api_url: str,
        sandbox_url: str,
        token: str,
        integration_id: str,
        api_pid: int = 0,
    ) -> None:
        self.env = env
        self.api_pid = api_pid
        self.api_url = api_url
        self.sandbox_url = sandbox_url
        self.token = token
        self.integration_id = integration_id
        self.http = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a `propbridge` command against this stack's database."""
        return subprocess.run(
            [*PROPBRIDGE, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
        )


@contextmanager
def running_stack(engine: Engine, workdir: Path, sandbox_args: list[str]) -> Iterator[Stack]:
    """Start the sandbox and `propbridge serve --no-worker`, make a key and an integration."""
    env = {
        "PROPBRIDGE_DATABASE_URL": engine.url,
        "PROPBRIDGE_DATA_DIR": str(workdir),
        "PROPBRIDGE_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "PROPBRIDGE_OUTBOUND_ALLOWLIST": "127.0.0.1",
        "PROPBRIDGE_LOG_LEVEL": "WARNING",
    }
    sandbox_port, api_port = free_port(), free_port()
    sandbox_url, api_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{api_port}"
    with (
        process(
            [*PROPBRIDGE, "sandbox", "resman", "--port", str(sandbox_port), *sandbox_args],
            env,
            workdir / "sandbox.log",
        ),
        process(
            [*PROPBRIDGE, "serve", "--no-worker", "--port", str(api_port)], env, workdir / "api.log"
        ) as api,
    ):
        wait_http(f"{sandbox_url}/_sandbox/info", timeout=300)
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
        created = httpx.post(
            f"{api_url}/v1/admin/integrations/",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "integration_vendor": "RESMAN",
                "name": "bench",
                "base_url": sandbox_url,
                "credentials": SANDBOX_CREDENTIALS,
                # The sandbox is local: no request budget worth the name, one job per worker slot.
                "max_request_frequency": 10_000,
                "max_request_cadence": "SECOND",
                "max_job_concurrency": 100,
            },
        )
        yield Stack(env, api_url, sandbox_url, token, created.json()["result"]["id"], api.pid)
