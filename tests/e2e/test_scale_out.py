"""Scale-out on PostgreSQL: two API processes and two worker processes on one database.

Started as separate OS processes, the way the README shows. Every write job runs once, both
workers take work, ResMan holds each charge once, and the schedule fires one sync at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from propbridge.integrations.credentials import generate_key_text
from tests.conftest import fresh_postgres
from tests.support import free_port, http_up, wait_for

PROPBRIDGE = [sys.executable, "-m", "propbridge"]


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen([*PROPBRIDGE, *args], env=env, stdout=out, stderr=out)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


async def _rows(url: str, sql: str) -> list[Any]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return list(await connection.fetch(sql))
    finally:
        await connection.close()


@pytest.fixture
def postgres_only() -> Iterator[str]:
    yield from fresh_postgres()


def test_two_apis_and_two_workers_share_one_database(postgres_only: str, tmp_path: Path) -> None:
    url = postgres_only
    env = {
        **os.environ,
        "PROPBRIDGE_DATABASE_URL": url,
        "PROPBRIDGE_ENCRYPTION_KEY": generate_key_text(),
        "PROPBRIDGE_DATA_DIR": str(tmp_path),
        "PROPBRIDGE_WORKER_POLL_SECONDS": "0.05",
        "PROPBRIDGE_LOG_LEVEL": "INFO",
        # Scheduled syncs every 2 s, to see that they never overlap across processes.
        "PROPBRIDGE_MIN_SYNC_INTERVAL_SECONDS": "1",
    }
    subprocess.run([*PROPBRIDGE, "migrate"], env=env, check=True, capture_output=True)
    token = (
        subprocess.run(
            [*PROPBRIDGE, "api-keys", "create", "--name", "scale"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    sandbox_port, api_ports = free_port(), (free_port(), free_port())
    with ExitStack() as running:
        running.enter_context(
            _process(
                [
                    "sandbox",
                    "resman",
                    "--port",
                    str(sandbox_port),
                    "--properties",
                    "1",
                    "--units",
                    "30",
                    "--months",
                    "1",
                ],
                env,
                tmp_path / "sandbox.log",
            )
        )
        for i, port in enumerate(api_ports):
            running.enter_context(
                _process(
                    ["serve", "--no-worker", "--port", str(port)], env, tmp_path / f"api{i}.log"
                )
            )
        # One job at a time each: a worker that claims in groups and refills its slots as jobs
        # end can otherwise keep up with this trickle alone, and the second would take nothing.
        one_slot = {**env, "PROPBRIDGE_WORKER_CONCURRENCY": "1"}
        for i in range(2):
            running.enter_context(_process(["worker"], one_slot, tmp_path / f"worker{i}.log"))
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        apis = [
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            for port in api_ports
        ]
        wait_for(lambda: http_up(f"{sandbox}/_sandbox/info"), timeout=60)
        for api in apis:
            wait_for(lambda api=api: http_up(f"{api.base_url}/readyz"), timeout=60)
        integration = (
            apis[0]
            .post(
                "/v1/admin/integrations/",
                json={
                    "integration_vendor": "RESMAN",
                    "name": "scale-out",
                    "base_url": sandbox,
                    "credentials": {
                        "integrationPartnerId": "1000",
                        "accountId": "400",
                        "apiKey": "0123456789abcdef0123456789abcdef",
                    },
                    "active": True,
                    "sync_frequency": 2,
                    "sync_cadence": "SECOND",
                    "max_request_frequency": 40,
                    "max_request_cadence": "SECOND",
                    "max_job_concurrency": 3,
                },
            )
            .json()["result"]
        )
        wait_for(
            lambda: (
                apis[1]
                .get(f"/v1/admin/integrations/{integration['id']}/")
                .json()["results"]["last_completed_sync"]
            ),
            timeout=60,
        )
        residents = [r for r in apis[1].get("/v1/residents/").json()["results"] if r["x_lease_id"]]
        code = next(
            c["id"]
            for c in apis[0].get("/v1/charge-codes/", params={"limit": 250}).json()["results"]
            if c["code"] == "PETF"
        )
        running_samples: list[int] = []
        sampling = threading.Event()

        async def sample() -> None:
            connection = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                while not sampling.is_set():
                    running_samples.append(
                        await connection.fetchval(
                            "SELECT count(*) FROM jobs WHERE state = 'running' "
                            "AND integration_id = $1",
                            integration["id"],
                        )
                    )
                    await asyncio.sleep(0.01)
            finally:
                await connection.close()

        sampler = threading.Thread(target=lambda: asyncio.run(sample()))
        sampler.start()
        batch = f"scale-{uuid.uuid4().hex[:6]}"
        references = [f"S-{i}-{uuid.uuid4().hex[:6]}" for i in range(200)]
        for i, reference in enumerate(references):
            response = apis[i % 2].post(
                "/v1/resident-charges/resman/",
                json={
                    "integration_id": integration["id"],
                    "resident_id": residents[i % len(residents)]["id"],
                    "charge_code_id": code,
                    "batch_id": batch,
                    "transaction_date": "2026-11-12T09:00:00Z",
                    "description": "scale-out",
                    "notes": str(i),
                    "amount_in_cents": 500 + i,
                    "reference_number": reference,
                },
            )
            assert response.status_code == 200, response.text

        def all_final() -> bool:
            rows = asyncio.run(
                _rows(
                    url,
                    "SELECT count(*) FROM jobs WHERE kind = 'write' AND state IN "
                    "('queued', 'running')",
                )
            )
            return rows[0][0] == 0

        try:
            wait_for(all_final, timeout=120, interval=0.5)
        finally:
            sampling.set()
            sampler.join(10)
        attempts = asyncio.run(
            _rows(
                url,
                "SELECT j.id, count(a.id) AS n, min(a.worker) AS w1, max(a.worker) AS w2, j.state "
                "FROM jobs j JOIN job_attempts a ON a.job_id = j.id WHERE j.kind = 'write' "
                "GROUP BY j.id, j.state",
            )
        )
        assert len(attempts) == 200
        assert all(row["n"] == 1 and row["state"] == "succeeded" for row in attempts)
        assert len({row["w1"] for row in attempts}) == 2  # both workers took writes
        pending = httpx.get(f"{sandbox}/_sandbox/partner-transactions").json()["results"]
        held = Counter(p["reference"] for p in pending)
        assert all(held[reference] == 1 for reference in references)
        # The integration's budget (40 requests a second) held across both workers: 200 posts
        # took at least four seconds to arrive, and no second saw more than two windows' worth
        # (a window is counted where the request leaves, the second where it arrives).
        arrivals = sorted(
            datetime.fromisoformat(p["received_at"].replace("Z", "+00:00")) for p in pending
        )
        assert (arrivals[-1] - arrivals[0]).total_seconds() >= 200 / 40 - 1
        per_second = Counter(p["received_at"][:19] for p in pending)
        assert max(per_second.values()) <= 80, per_second.most_common(3)
        # ... and so did its job concurrency (3), counted over both (sampled while they ran).
        assert max(running_samples) <= 3, max(running_samples)
        assert max(running_samples) >= 2  # the sampler did see them work in parallel

        # The 2-second schedule, seen by two schedulers, never runs two syncs at once.
        runs = asyncio.run(
            _rows(
                url,
                "SELECT started_at, finished_at FROM sync_runs WHERE integration_id = "  # noqa: S608
                f"'{integration['id']}' ORDER BY started_at",
            )
        )
        assert len(runs) >= 2
        for earlier, later in itertools.pairwise(runs):
            finished: datetime = earlier["finished_at"]
            assert finished is not None and finished <= later["started_at"]
        for api in apis:
            api.close()
    # Every log line of the run (API, workers, sandbox): no secret in any of them.
    secrets = [
        token,
        env["PROPBRIDGE_ENCRYPTION_KEY"],
        "0123456789abcdef0123456789abcdef",  # the PMS API key
    ]
    logs = "".join(log.read_text(errors="replace") for log in tmp_path.glob("*.log"))
    assert "write_accepted" in logs and "sync_finished" in logs  # the logs are real
    for secret in secrets:
        assert secret not in logs
