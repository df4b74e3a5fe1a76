"""Benchmark of a mixed-fault run: 1,000 charges through a misbehaving ResMan sandbox.

For each engine: the sandbox, `propbridge serve --no-worker` and one `propbridge worker` (1-second
ResMan timeout, fast retries) as processes; the sandbox's fault switches on for posts (429 with
Retry-After, 500, 503, timeouts before and after storing, dropped connections, malformed XML,
Status=Error, hostile XML). Reported: charges acknowledged, accepted by ResMan, uncertain, refused,
duplicates in ResMan (must be 0), acknowledged charges missing from the database (must be 0),
early retries after a 429 (must be 0), and the time until every job was final.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from harness import PROPBRIDGE, Engine, process, running_stack

from propbridge.sandbox.resman.faults import MIXED_POST_FAULTS

COUNT = 1000
FAULTS = {**MIXED_POST_FAULTS, "seed": 5}


async def _post(api_url: str, token: str, bodies: list[dict[str, Any]]) -> list[str]:
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:

        async def one(body: dict[str, Any]) -> str:
            async with limit:
                response = await client.post("/v1/resident-charges/resman/", json=body)
                response.raise_for_status()
                return str(body["reference_number"])

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-faults-{name}-"))
    engine = Engine(name, workdir)
    try:
        with running_stack(
            engine, workdir, ["--properties", "2", "--units", "100", "--months", "2"]
        ) as stack:
            stack.cli("sync", stack.integration_id)
            http = stack.http
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
            batch = f"faults-{uuid.uuid4().hex[:8]}"
            bodies = [
                {
                    "integration_id": stack.integration_id,
                    "resident_id": residents[i % len(residents)]["id"],
                    "charge_code_id": codes[residents[i % len(residents)]["property_id"]],
                    "batch_id": batch,
                    "transaction_date": "2026-11-05T09:00:00Z",
                    "description": "fault run",
                    "notes": str(i),
                    "amount_in_cents": 100 + i,
                    "reference_number": f"FR-{i}-{uuid.uuid4().hex[:6]}",
                }
                for i in range(COUNT)
            ]
            httpx.post(f"{stack.sandbox_url}/_sandbox/faults", json=FAULTS).raise_for_status()
            env = {
                **stack.env,
                "PROPBRIDGE_RESMAN_TIMEOUT_SECONDS": "1",
                "PROPBRIDGE_RETRY_BASE_SECONDS": "0.05",
            }
            started = time.perf_counter()
            acknowledged = asyncio.run(_post(stack.api_url, stack.token, bodies))
            with process([*PROPBRIDGE, "worker"], env, workdir / "worker.log"):
                while True:
                    left = engine.query(
                        "SELECT count(*) FROM jobs WHERE kind = 'write' AND state IN "
                        "('queued', 'running')"
                    )[0][0]
                    if left == 0:
                        break
                    time.sleep(0.2)
            seconds = time.perf_counter() - started
            report = httpx.get(f"{stack.sandbox_url}/_sandbox/faults").json()
            statuses = Counter(row[0] for row in engine.query("SELECT status FROM write_items"))
            stored = {row[0] for row in engine.query("SELECT reference_number FROM write_items")}
            pending = httpx.get(f"{stack.sandbox_url}/_sandbox/partner-transactions").json()
            held = Counter(p["reference"] for p in pending["results"])
        return {
            "engine": name,
            "acknowledged": len(acknowledged),
            "accepted": statuses.get("ACCEPTED", 0),
            "unknown": statuses.get("OUTCOME_UNKNOWN", 0),
            "refused": statuses.get("REJECTED", 0),
            "in_resman": len(held),
            "duplicates": sum(1 for n in held.values() if n > 1),
            "lost": len(set(acknowledged) - stored),
            "early_retries": report["early_retries"],
            "faults": sum(report["injected"].values()),
            "seconds": seconds,
        }
    finally:
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    results = [run_engine(name) for name in engines]
    print(f"\nMixed faults — {COUNT} charges, {os.cpu_count()} cores\n")
    columns = (
        "acknowledged",
        "accepted",
        "unknown",
        "refused",
        "in_resman",
        "duplicates",
        "lost",
        "early_retries",
        "faults",
    )
    header = f"{'engine':<11}" + "".join(f"{c:>14}" for c in columns) + f"{'all final in':>14}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['engine']:<11}"
            + "".join(f"{r[c]:>14}" for c in columns)
            + f"{r['seconds']:>13.1f}s"
        )
    print(
        "\nmust be 0: duplicates, lost, early_retries. 'unknown' posts may or may not be in ResMan;"
    )
    print("a sync after approval reconciles those that are (the test suite checks it).\n")


if __name__ == "__main__":
    main()
