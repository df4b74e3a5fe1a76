"""Benchmark of a normal client during a flood of unauthenticated writes, and of `/healthz`
while 2 MiB bodies arrive.

For each engine it starts a seeded sandbox and `propbridge serve --no-worker`, syncs, then runs a
normal client (4 connections, `GET /v1/residents/?limit=25` with a good token) three times:
alone against `/healthz` (the floor: the server doing nothing), alone against the list, and
again while wrk floods `POST /v1/resident-charges/resman/` from 28 more connections, each
request with a forged token, its own `Idempotency-Key` and a 1 KB body. It then counts the rows
the flood left in the idempotency store (each is a write an attacker made us do).

Then `/healthz` (2 connections) while 6 connections send `POST
/v1/resident-charges/batch/resman/` (the route that takes 2 MiB; others refuse 64 KiB unread)
with 2 MiB bodies, as fast as the server answers them: without a token, then with a good one
(bodies of the shapes that cost a JSON check most: tiny objects, one array of numbers, small
arrays nested 31 deep, thousands of keys, long strings; a Python client in its own process,
`--body-flood`). Prints two tables. Run it with `make bench`, or alone:
`python bench/bench_flood.py [sqlite] [postgresql]`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from harness import SECONDS, Engine, running_stack, wrk, wrk_command, wrk_result

CLIENT_CONNECTIONS = 4
FLOOD_CONNECTIONS = 28
BODY_CONNECTIONS = 6
HEALTH_CONNECTIONS = 2
TWO_MIB = 2 * 1024 * 1024
FLOODED = "/v1/resident-charges/batch/resman/"


def _shapes() -> list[bytes]:
    """2 MiB JSON bodies of the shapes that cost a check most (each exactly 2 MiB long)."""

    def padded(text: bytes) -> bytes:
        return text[:-1] + b" " * (TWO_MIB - len(text)) + text[-1:]

    return [
        padded(b"[" + b",".join([b"{}"] * (TWO_MIB // 3 - 1)) + b"]"),
        padded(b"[" + b",".join([b"1"] * (TWO_MIB // 2 - 1)) + b"]"),
        padded(b"[" + b",".join([b"[" * 30 + b"]" * 30] * (TWO_MIB // 61 - 1)) + b"]"),
        padded(b"{" + b",".join(b'"k%d":1' % i for i in range(TWO_MIB // 13)) + b"}"),
        padded(b'{"description": "' + b"a" * (TWO_MIB - 40) + b'"}'),
    ]


async def _body_flood(host: str, port: int, token: str, seconds: float) -> dict[str, Any]:
    """`BODY_CONNECTIONS` connections each POSTing 2 MiB bodies, one after another, for
    `seconds`; the answers counted by status."""
    bodies = _shapes()
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    auth = f"Authorization: Bearer {token}\r\n" if token else ""

    def count(outcome: str) -> None:
        statuses[outcome] = statuses.get(outcome, 0) + 1

    async def connection(n: int) -> None:
        sent = n
        while time.monotonic() < deadline:
            reader, writer = await asyncio.open_connection(host, port)
            whole = True
            while whole and time.monotonic() < deadline:
                body = bodies[sent % len(bodies)]
                sent += 1
                head = (
                    f"POST {FLOODED} HTTP/1.1\r\nHost: {host}\r\n{auth}"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                try:
                    writer.write(head.encode() + body)
                    await writer.drain()
                except ConnectionError:
                    whole = False  # answered and closed before taking it all: read the answer
                try:
                    status_line = await reader.readuntil(b"\r\n")
                    headers = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":")[1])
                        for line in headers.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    )
                    await reader.readexactly(length)
                except (ConnectionError, asyncio.IncompleteReadError):
                    count("no answer")
                    break
                count(status_line.split()[1].decode())
            writer.close()

    await asyncio.gather(*(connection(n) for n in range(BODY_CONNECTIONS)))
    # A connection the server closed after an answer is found closed by the next request on
    # it ("no answer"): not a body the server dealt with.
    answered = sum(n for outcome, n in statuses.items() if outcome != "no answer")
    return {"answers": statuses, "rps": answered / seconds}


def _settled(api_url: str) -> None:
    """Wait (at most a minute) until `/healthz` answers within 20 ms again: a server still
    working off the last flood's bodies would count against the next measurement."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = time.monotonic()
        httpx.get(f"{api_url}/healthz", timeout=60)
        if time.monotonic() - started < 0.02:
            return
        time.sleep(0.5)


def healthz_during_body_flood(api_url: str, token: str) -> dict[str, Any]:
    """`/healthz` measured by wrk while `--body-flood` runs in a process of its own."""
    _settled(api_url)
    host, port = api_url.removeprefix("http://").split(":")
    flood = subprocess.Popen(
        [sys.executable, __file__, "--body-flood", host, port, token, str(SECONDS + 2)],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1)
    health = wrk(f"{api_url}/healthz", "get.lua", {}, HEALTH_CONNECTIONS)
    out, _ = flood.communicate(timeout=SECONDS + 120)
    return {"health": health, "flood": json.loads(out)}


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
            quiet = wrk(f"{stack.api_url}/healthz", "get.lua", {}, HEALTH_CONNECTIONS)
            unauthenticated = healthz_during_body_flood(stack.api_url, "")
            authenticated = healthz_during_body_flood(stack.api_url, stack.token)
            return {
                "quiet": quiet,
                "unauthenticated": unauthenticated,
                "authenticated": authenticated,
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
    if sys.argv[1:2] == ["--body-flood"]:
        host, port, token, seconds = sys.argv[2:6]
        print(json.dumps(asyncio.run(_body_flood(host, int(port), token, float(seconds)))))
        return
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

    print(
        f"\n/healthz ({HEALTH_CONNECTIONS} connections) alone and while {BODY_CONNECTIONS} "
        f"connections POST 2 MiB bodies, {SECONDS}s each\n"
    )
    header = (
        f"{'engine':<11}{'alone p50':>10}{'p99':>8}{'req/s':>8}"
        f"{'flooded p50':>14}{'p99':>9}{'errors':>7}{'bodies/s':>9}  answers"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        q = r["quiet"]
        for kind in ("unauthenticated", "authenticated"):
            h, b = r[kind]["health"], r[kind]["flood"]
            label = r["engine"] if kind == "unauthenticated" else "  with token"
            print(
                f"{label:<11}{q['p50_ms']:>9.1f}m{q['p99_ms']:>7.1f}m{q['rps']:>8.0f}"
                f"{h['p50_ms']:>13.1f}m{h['p99_ms']:>8.1f}m{h['errors']:>7}{b['rps']:>9.1f}  "
                f"{b['answers']}"
            )
    print(
        "\ntarget: /healthz p99 under 100 ms while the bodies arrive (its errors are requests "
        "that got no answer within wrk's 10 s)"
    )


if __name__ == "__main__":
    main()
