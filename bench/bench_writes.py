"""Benchmark of the seed path: POST /v1/resident-charges/resman/ and charge delivery to ResMan.

For each engine it starts, as separate processes, a seeded ResMan sandbox and `propbridge serve
--no-worker`, loads them with wrk (32 connections) — first `GET /healthz` (the floor: the same
server doing nothing), then the POST — checks that every acknowledged charge was committed, then
starts one `propbridge worker` and measures how fast it delivers the queued charges to the sandbox.
Prints one table. Run it with `make bench`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from harness import (
    CONNECTIONS,
    PROPBRIDGE,
    SECONDS,
    Engine,
    parse_time,
    process,
    running_stack,
    wrk,
)


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-{name}-"))
    engine = Engine(name, workdir)
    try:
        with running_stack(
            engine, workdir, ["--properties", "2", "--units", "50", "--months", "2"]
        ) as stack:
            stack.cli("sync", stack.integration_id)
            http, api_url, sandbox_url, token, env = (
                stack.http,
                stack.api_url,
                stack.sandbox_url,
                stack.token,
                stack.env,
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
                    "integration_id": stack.integration_id,
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
