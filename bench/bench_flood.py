"""Benchmark of a normal client during a flood of unauthenticated writes.

For each engine it starts a seeded sandbox and `propbridge serve --no-worker`, syncs, then runs a
normal client (4 connections, `GET /v1/residents/?limit=25` with a good token) three times:
alone against `/healthz` (the floor: the server doing nothing), alone against the list, and
again while wrk floods `POST /v1/resident-charges/resman/` from 28 more connections, each
request with a forged token, its own `Idempotency-Key` and a 1 KB body. It then counts the rows
the flood left in the idempotency store (each is a write an attacker made us do). Prints one
table. Run it with `make bench`, or alone: `python bench/bench_flood.py [sqlite] [postgresql]`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from harness import SECONDS, Engine, running_stack, wrk, wrk_command, wrk_result

CLIENT_CONNECTIONS = 4
FLOOD_CONNECTIONS = 28


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-flood-{name}-"))
    engine = Engine(name, workdir)
    try:
        with running_stack(
            engine, workdir, ["--properties", "2", "--units", "50", "--months", "2"]
        ) as stack:
            stack.cli("sync", stack.integration_id)
            client = {"TOKEN": stack.token}
            listing = f"{stack.api_url}/v1/residents/?limit=25"
            floor = wrk(f"{stack.api_url}/healthz", "get.lua", {}, CLIENT_CONNECTIONS)
            alone = wrk(listing, "get.lua", client, CLIENT_CONNECTIONS)
            keys_before = engine.query("SELECT count(*) FROM idempotency_keys")[0][0]
            flood = subprocess.Popen(
                wrk_command(stack.api_url, "flood.lua", FLOOD_CONNECTIONS, SECONDS + 2),
                env=os.environ.copy(),
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(1)
            during = wrk(listing, "get.lua", client, CLIENT_CONNECTIONS)
            out, _ = flood.communicate(timeout=SECONDS + 60)
            keys_after = engine.query("SELECT count(*) FROM idempotency_keys")[0][0]
            return {
                "engine": name,
                "floor": floor,
                "alone": alone,
                "during": during,
                "flood": wrk_result(out),
                "keys_written": keys_after - keys_before,
            }
    finally:
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    rows = [run_engine(name) for name in engines]
    print(
        f"\nA normal client ({CLIENT_CONNECTIONS} connections, GET /v1/residents/?limit=25) alone "
        f"and during a flood of forged-token POSTs with Idempotency-Keys ({FLOOD_CONNECTIONS} "
        f"connections), {SECONDS}s each, {os.cpu_count()} cores shared by all\n"
    )
    header = (
        f"{'engine':<11}{'healthz p50':>12}{'p99':>8}{'alone req/s':>12}{'p50':>8}{'p99':>8}"
        f"{'flooded req/s':>14}{'p50':>8}{'p99':>8}{'flood req/s':>12}{'keys stored':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        f, a, d = r["floor"], r["alone"], r["during"]
        print(
            f"{r['engine']:<11}{f['p50_ms']:>11.1f}m{f['p99_ms']:>7.1f}m{a['rps']:>12.0f}"
            f"{a['p50_ms']:>7.1f}m{a['p99_ms']:>7.1f}m{d['rps']:>14.0f}{d['p50_ms']:>7.1f}m"
            f"{d['p99_ms']:>7.1f}m{r['flood']['rps']:>12.0f}{r['keys_written']:>12}"
        )
    print(
        "\ntarget: the flood stores nothing (keys stored 0) and costs the normal client no more "
        "than sharing the cores does; flood non-2xx should equal its requests (all 401)"
    )
    for r in rows:
        print(
            f"{r['engine']}: flooded/alone p99 = {r['during']['p99_ms'] / r['alone']['p99_ms']:.2f}, "
            f"client errors during flood {r['during']['errors']}, flood answered "
            f"{r['flood']['requests']} ({r['flood']['non2xx']} non-2xx)"
        )


if __name__ == "__main__":
    main()
