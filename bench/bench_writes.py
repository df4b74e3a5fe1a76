"""Benchmark of the seed path: POST /v1/resident-charges/resman/ and charge delivery to ResMan.

For each engine it starts, as separate processes, a seeded ResMan sandbox and `propbridge serve
--no-worker`, loads them with wrk (32 connections) — first `GET /healthz` (the same server doing
nothing), then the POST — checks that every acknowledged charge was committed, then starts one
`propbridge worker` and measures how fast it delivers the queued charges to the sandbox. Last,
the POST and its floor (`floor_post.py`: the same request, lookups and group commit on a raw ASGI
app and the bare driver, in its own uvicorn process) take the same load in turns against the same
database, with references of their own. Prints two tables. Run it with `make bench`.
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
from floor_delivery import cpu_seconds, delivery_floor
from harness import (
    CONNECTIONS,
    PROPBRIDGE,
    SECONDS,
    Engine,
    free_port,
    parse_time,
    process,
    running_stack,
    wait_http,
    wrk,
)

# The seeded sandbox of the run (the delivery floor starts a fresh one just like it).
SANDBOX_ARGS = ["--properties", "2", "--units", "50", "--months", "2"]

HERE = Path(__file__).parent


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_serving(port: str) -> int | None:
    """The process whose command line serves this port (the API the stack started)."""
    wanted = f"--port\0{port}\0".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"serve\0--no-worker" in cmdline and wanted in cmdline:
                return int(entry.name)
    return None


def load_with_cpu(
    pid: int | None, url: str, env: dict[str, str], seconds: int = SECONDS
) -> dict[str, Any]:
    """wrk's POST load, with the CPU the serving process spent per request (a figure that holds
    on a machine other loads share, where req/s do not)."""
    before = process_cpu_seconds(pid) if pid else 0.0
    result = wrk(url, "post_charge.lua", env, seconds=seconds)
    if pid:
        used = process_cpu_seconds(pid) - before
        result["cpu_ms"] = 1000 * used / max(result["requests"], 1)
    return result


# The POST and its floor take turns, in slices of half the load time, this many times each:
# whatever else runs on the machine weighs on both alike (taken one after the other, half a
# minute apart, the same code showed ratios from 1.7 to 3.9 on a shared machine).
TURNS = 2


def post_beside_floor(
    engine: Engine, workdir: Path, api_url: str, env: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The POST (again) and its floor (`floor_post.py`, its own uvicorn process on the run's
    database) in turns, each slice's acknowledged charges beside the rows it committed."""
    database = engine.url.replace("+aiosqlite", "").replace("+asyncpg", "")
    port = free_port()
    command = [sys.executable, str(HERE / "floor_post.py"), "--port", str(port)]
    slices: dict[str, list[dict[str, Any]]] = {"post": [], "floor": []}
    with process([*command, "--database", database], {}, workdir / "floor.log") as floor:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        targets = {
            "post": (pid_serving(api_url.rsplit(":", 1)[1]), api_url),
            "floor": (floor.pid, f"http://127.0.0.1:{port}"),
        }
        for turn in range(TURNS):
            for name, (pid, url) in targets.items():
                before = engine.query("SELECT COUNT(*) FROM write_requests")[0][0]
                # References of their own: no slice repeats another's (or the first load's).
                own = {**env, "REF_PREFIX": f"{name.upper()}{turn}"}
                result = load_with_cpu(pid, url, own, max(1, SECONDS // 2))
                time.sleep(2)  # requests still in flight when wrk stopped finish and commit
                after = engine.query("SELECT COUNT(*) FROM write_requests")[0][0]
                slices[name].append({**result, "committed": after - before})
    return {name: _together(results) for name, results in slices.items()}


def _together(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure for a target's slices: req/s over all of them, the worst p99, CPU per
    request, acknowledged and committed charges."""
    requests = sum(s["requests"] for s in slices)
    return {
        "rps": requests / sum(s["seconds"] for s in slices),
        "p99_ms": max(s["p99_ms"] for s in slices),
        "cpu_ms": sum(s.get("cpu_ms", 0.0) * s["requests"] for s in slices) / max(requests, 1),
        "acknowledged": requests - sum(s["non2xx"] for s in slices),
        "committed": sum(s["committed"] for s in slices),
    }


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-{name}-"))
    engine = Engine(name, workdir)
    try:
        with running_stack(engine, workdir, SANDBOX_ARGS) as stack:
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
            load = {"BODY_TEMPLATE": body, "TOKEN": token}
            posts = load_with_cpu(pid_serving(api_url.rsplit(":", 1)[1]), api_url, load)
            acknowledged = posts["requests"] - posts["non2xx"]
            time.sleep(2)  # requests still in flight when wrk stopped finish and commit
            committed = engine.query("SELECT COUNT(*) FROM write_requests")[0][0]
            queued = engine.query("SELECT COUNT(*) FROM jobs WHERE kind = 'write'")[0][0]
            with process([*PROPBRIDGE, "worker"], env, workdir / "worker.log") as worker:
                deadline = time.monotonic() + 900
                under_way: tuple[int, float] | None = None  # (charges left, CPU used) then
                while time.monotonic() < deadline:
                    left = engine.query(
                        "SELECT COUNT(*) FROM jobs WHERE kind = 'write' AND "
                        "state IN ('queued', 'running')"
                    )[0][0]
                    if under_way is None and left < queued:
                        # Past start-up (imports, migrations): the CPU from here is delivery's.
                        under_way = (left, cpu_seconds(worker.pid))
                    if left == 0:
                        break
                    time.sleep(0.5)
                worker_cpu = cpu_seconds(worker.pid) - under_way[1] if under_way else 0.0
            span = engine.query(
                "SELECT MIN(finished_at), MAX(finished_at), COUNT(*) FROM jobs "
                "WHERE kind = 'write' AND state = 'succeeded'"
            )[0]
            delivered = span[2]
            seconds = max(parse_time(span[1]) - parse_time(span[0]), 1e-6) if delivered else 0
            pending = httpx.get(f"{sandbox_url}/_sandbox/info").json()["counts"][
                "partner_transactions"
            ]
            beside_floor = post_beside_floor(engine, workdir, api_url, load)
            row = {
                "post_beside_floor": beside_floor,
                "engine": name,
                "floor": floor,
                "post": posts,
                "acknowledged": acknowledged,
                "committed": committed,
                "queued": queued,
                "delivered": delivered,
                "delivery_rps": delivered / seconds if seconds else 0.0,
                "delivery_cpu_ms": 1000 * worker_cpu / under_way[0] if under_way else 0.0,
                "in_resman": pending,
            }
        # Once the stack has stopped: nothing holds the database open (a PostgreSQL copy needs
        # that) and the floor has the machine as the worker had it.
        row.update(delivery_floor(engine, workdir, SANDBOX_ARGS))
        return row
    finally:
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def _ratio(floor: float, measured: float) -> float:
    """How many times the floor is faster than the measured figure."""
    return floor / measured if measured else float("inf")


def main() -> None:
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    rows = [run_engine(name) for name in engines]
    print(
        f"\nPOST /v1/resident-charges/resman/ — {CONNECTIONS} connections, {SECONDS}s each, "
        f"{os.cpu_count()} cores (load generator, API, sandbox share them)\n"
    )
    header = (
        f"{'engine':<11}{'healthz req/s':>14}{'p50':>8}{'p99':>8}{'POST req/s':>12}"
        f"{'p50':>8}{'p99':>8}{'acked':>8}{'committed':>10}{'deliver/s':>11}{'floor/s':>9}"
        f"{'ratio':>7}{'in ResMan':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        f, p = r["floor"], r["post"]
        print(
            f"{r['engine']:<11}{f['rps']:>14.0f}{f['p50_ms']:>7.1f}m{f['p99_ms']:>7.1f}m"
            f"{p['rps']:>12.0f}{p['p50_ms']:>7.1f}m{p['p99_ms']:>7.1f}m{r['acknowledged']:>8}"
            f"{r['committed']:>10}{r['delivery_rps']:>11.0f}{r['floor_rps']:>9.0f}"
            f"{_ratio(r['floor_rps'], r['delivery_rps']):>6.2f}×{r['in_resman']:>11}"
        )
    print(
        "\ntargets: POST ≥ 500 req/s with every acknowledged charge committed "
        "(acked == committed); delivery ≥ 300 charges/s by one worker, within 2× of its floor "
        "(ratio = floor/worker: the same documents and database writes, bare httpx and driver, "
        "the worker's concurrency, a fresh sandbox)"
    )
    for r in rows:
        lost = max(0, r["acknowledged"] - r["committed"])
        print(
            f"{r['engine']}: POST/floor = {r['post']['rps'] / r['floor']['rps']:.2f}, "
            f"acknowledged-but-not-committed = {lost} (committed also counts requests wrk "
            f"abandoned in flight at the end), delivered {r['delivered']} of {r['queued']} "
            f"queued, {r['in_resman']} pending in the sandbox"
        )
    for r in rows:
        print(
            f"{r['engine']} delivery: one worker {r['delivery_rps']:.0f} charges/s "
            f"({r['delivery_cpu_ms']:.2f} ms CPU each), its floor {r['floor_rps']:.0f} charges/s "
            f"({r['floor_cpu_ms']:.2f} ms CPU each): floor/worker "
            f"{_ratio(r['floor_rps'], r['delivery_rps']):.2f}× in charges/s, "
            f"{_ratio(r['delivery_cpu_ms'], r['floor_cpu_ms']):.2f}× in CPU per charge"
        )
    print_post_floor(rows)


def print_post_floor(rows: list[dict[str, Any]]) -> None:
    """The POST beside its floor (`floor_post.py`), taking turns in the same run."""
    print(
        f"\nPOST /v1/resident-charges/resman/ beside its floor (raw ASGI app + driver: the same "
        f"auth, JSON, lookups, group commit and answer), in turns of {max(1, SECONDS // 2)}s, "
        f"{TURNS} each, same load and database; CPU = the serving process's per request\n"
    )
    header = (
        f"{'engine':<11}{'POST req/s':>11}{'p99':>9}{'CPU':>8}{'acked':>8}{'committed':>10}"
        f"{'floor req/s':>12}{'p99':>9}{'CPU':>8}{'acked':>8}{'committed':>10}{'floor/POST':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        p, f = r["post_beside_floor"]["post"], r["post_beside_floor"]["floor"]
        print(
            f"{r['engine']:<11}{p['rps']:>11.0f}{p['p99_ms']:>8.1f}m{p['cpu_ms']:>6.2f}ms"
            f"{p['acknowledged']:>8}{p['committed']:>10}{f['rps']:>12.0f}{f['p99_ms']:>8.1f}m"
            f"{f['cpu_ms']:>6.2f}ms{f['acknowledged']:>8}{f['committed']:>10}"
            f"{f['rps'] / p['rps']:>10.2f}×"
        )
    print(
        "target: floor/POST ≤ 2 on each engine; committed ≥ acked (it also counts requests wrk "
        "abandoned in flight at the end of a slice)"
    )


if __name__ == "__main__":
    main()
