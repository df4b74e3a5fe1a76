"""Benchmark of scale-out on PostgreSQL: write jobs per second with one worker process, then two.

A seeded sandbox and `propbridge serve --no-worker` as processes; 1,000 charges are queued with
no worker running, then N `propbridge worker` processes start and the time from the first claim
to the last finished write is read from the database. Run it with `make bench`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from harness import PROPBRIDGE, Engine, parse_time, process, running_stack

COUNT = 1000


async def _queue(api_url: str, token: str, bodies: list[dict[str, Any]]) -> None:
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:

        async def one(body: dict[str, Any]) -> None:
            async with limit:
                (await client.post("/v1/resident-charges/resman/", json=body)).raise_for_status()

        await asyncio.gather(*(one(b) for b in bodies))


def _bodies(http: httpx.Client, integration_id: str) -> list[dict[str, Any]]:
    residents = [
        r
        for r in http.get("/v1/residents/", params={"limit": 250}).json()["results"]
        if r["x_lease_id"]
    ]
    codes = {
        c["property_id"]: c["id"]
        for c in http.get("/v1/charge-codes/", params={"limit": 250}).json()["results"]
        if c["code"] == "PETF"
    }
    batch = f"scale-{uuid.uuid4().hex[:8]}"
    return [
        {
            "integration_id": integration_id,
            "resident_id": residents[i % len(residents)]["id"],
            "charge_code_id": codes[residents[i % len(residents)]["property_id"]],
            "batch_id": batch,
            "transaction_date": "2026-11-05T09:00:00Z",
            "description": "scale-out",
            "notes": "bench",
            "amount_in_cents": 100 + i,
            "reference_number": f"SO-{uuid.uuid4().hex[:12]}",
        }
        for i in range(COUNT)
    ]


def _rate(engine: Engine, batch: str) -> float:
    row = engine.query(
        "SELECT MIN(a.started_at), MAX(r.finished_at), COUNT(DISTINCT r.id) FROM write_requests r "  # noqa: S608
        "JOIN job_attempts a ON a.job_id = r.job_id "
        f"WHERE r.request_body->>'charges' IS NULL AND r.request_body->>'batch_id' = '{batch}'"
    )[0]
    return int(row[2]) / (parse_time(row[1]) - parse_time(row[0]))


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="pb-bench-scale-"))
    engine = Engine("postgresql", workdir)
    rates: dict[int, float] = {}
    try:
        with running_stack(
            engine, workdir, ["--properties", "2", "--units", "100", "--months", "2"]
        ) as stack:
            stack.cli("sync", stack.integration_id)
            for workers in (1, 2):
                bodies = _bodies(stack.http, stack.integration_id)
                asyncio.run(_queue(stack.api_url, stack.token, bodies))
                batch = bodies[0]["batch_id"]
                with ExitStack() as running:
                    for i in range(workers):
                        running.enter_context(
                            process(
                                [*PROPBRIDGE, "worker"],
                                stack.env,
                                workdir / f"worker{workers}{i}.log",
                            )
                        )
                    deadline = time.monotonic() + 600
                    while time.monotonic() < deadline:
                        left = engine.query(
                            "SELECT count(*) FROM jobs WHERE kind = 'write' AND state IN ('queued', 'running')"
                        )[0][0]
                        if left == 0:
                            break
                        time.sleep(0.5)
                rates[workers] = _rate(engine, batch)
    finally:
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nScale-out on PostgreSQL — {COUNT} queued charges, {os.cpu_count()} cores\n")
    print(f"{'worker processes':<18}{'write jobs/s':>14}")
    print("-" * 32)
    for workers, rate in rates.items():
        print(f"{workers:<18}{rate:>14.0f}")
    print(
        f"\ntwo workers / one: {rates[2] / rates[1]:.2f}x (the API, the sandbox, PostgreSQL and "
        "the workers share the same cores)\n"
    )


if __name__ == "__main__":
    main()
