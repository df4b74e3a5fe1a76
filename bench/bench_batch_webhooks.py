"""Benchmark of a 1,000-charge batch beside 1,000 single charges, and of webhook deliveries.

For each engine: a seeded sandbox, `propbridge serve --no-worker` and one `propbridge worker` as
separate processes. Times are read from the database (when each write was accepted and when
ResMan's answer was recorded), so the worker's polling does not blur them.
- batch: one POST of 1,000 charges → ResMan's acknowledgement of the one document; its size;
- singles: 1,000 POSTs (32 at a time) → the last acknowledgement;
- webhooks: the 1,000 singles' WRITE_OPERATION_SUCCESS events, held back by a receiver that
  answers 503 until every write is done, then delivered to a local receiver: deliveries per second
  from the moment it starts answering 204.
Run it with `make bench`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from harness import PROPBRIDGE, Engine, parse_time, peak_rss_mb, process, running_stack

from propbridge.connectors.base import TransactionToPost
from propbridge.connectors.resman.mits import build_resident_transactions

COUNT = 1000


class Receiver:
    """A local webhook endpoint: 503 until opened, then 204 (counts what it accepted)."""

    def __init__(self) -> None:
        self.open = False
        self.accepted = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    status = 204 if receiver.open else 503
                    if receiver.open:
                        receiver.accepted += 1
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _charges(http: httpx.Client, count: int) -> list[dict[str, Any]]:
    residents = [
        r
        for r in http.get("/v1/residents/", params={"limit": 250}).json()["results"]
        if r["x_lease_id"]
    ]
    prop = residents[0]["property_id"]
    residents = [r for r in residents if r["property_id"] == prop]
    code = next(
        c["id"]
        for c in http.get("/v1/charge-codes/", params={"property_id": prop, "limit": 250}).json()[
            "results"
        ]
        if c["code"] == "PETF"
    )
    batch = f"bench-{uuid.uuid4().hex[:8]}"
    return [
        {
            "resident_id": residents[i % len(residents)]["id"],
            "charge_code_id": code,
            "batch_id": batch,
            "transaction_date": "2026-11-05T09:00:00Z",
            "description": f"Benchmark charge {i}",
            "notes": "bench",
            "amount_in_cents": 1000 + i,
            "reference_number": f"BN-{uuid.uuid4().hex[:12]}",
        }
        for i in range(count)
    ]


def _write_span(engine: Engine, operation: str) -> tuple[float, int]:
    row = engine.query(
        "SELECT MIN(created_at), MAX(finished_at), COUNT(*) FROM write_requests "  # noqa: S608
        f"WHERE operation = '{operation}' AND finished_at IS NOT NULL"
    )[0]
    if not row[2]:
        return 0.0, 0
    return parse_time(row[1]) - parse_time(row[0]), int(row[2])


def _document_bytes(engine: Engine) -> int:
    import json

    rows = engine.query(
        "SELECT i.kind, i.reference_number, i.batch_id, i.amount_in_cents, i.x_property_id, "
        "i.upstream FROM write_items i JOIN write_requests r ON r.id = i.write_request_id "
        "WHERE r.operation = 'resident_charge_batch' ORDER BY i.position"
    )
    posts = []
    for kind, reference, batch, cents, _prop, upstream in rows:
        upstream = upstream if isinstance(upstream, dict) else json.loads(upstream)
        posts.append(
            TransactionToPost(
                kind,
                reference,
                batch,
                upstream["transaction_date"],
                upstream["description"],
                upstream["notes"],
                cents,
                upstream,
            )
        )
    return len(build_resident_transactions(rows[0][4], posts).encode())


async def _post_singles(api_url: str, token: str, bodies: list[dict[str, Any]]) -> None:
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:

        async def one(body: dict[str, Any]) -> None:
            async with limit:
                response = await client.post("/v1/resident-charges/resman/", json=body)
                response.raise_for_status()

        await asyncio.gather(*(one(b) for b in bodies))


def _wait(predicate: Any, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.1)


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-batch-{name}-"))
    engine = Engine(name, workdir)
    receiver = Receiver()
    try:
        with running_stack(
            engine, workdir, ["--properties", "1", "--units", "250", "--months", "2"]
        ) as stack:
            stack.cli("sync", stack.integration_id)
            env = {**stack.env, "PROPBRIDGE_WEBHOOK_FIRST_RETRY_SECONDS": "0.2"}
            with process([*PROPBRIDGE, "worker"], env, workdir / "worker.log"):
                charges = _charges(stack.http, COUNT)
                posted = time.perf_counter()
                response = stack.http.post(
                    "/v1/resident-charges/batch/resman/",
                    json={"integration_id": stack.integration_id, "charges": charges},
                )
                response.raise_for_status()
                answered = time.perf_counter() - posted
                batch_rss = peak_rss_mb(stack.api_pid)
                _wait(lambda: _write_span(engine, "resident_charge_batch")[1] == 1)
                batch_seconds = _write_span(engine, "resident_charge_batch")[0]
                size = _document_bytes(engine)

                hook = stack.http.post(
                    "/v1/webhooks/",
                    json={
                        "url": receiver.url,
                        "triggers": ["WRITE_OPERATION_SUCCESS"],
                        "active": True,
                    },
                )
                hook.raise_for_status()
                singles = _charges(stack.http, COUNT)
                for body in singles:
                    body["integration_id"] = stack.integration_id
                asyncio.run(_post_singles(stack.api_url, stack.token, singles))
                _wait(lambda: _write_span(engine, "resident_charge")[1] == COUNT)
                single_seconds = _write_span(engine, "resident_charge")[0]
                with receiver.lock:
                    receiver.open = True
                opened = time.perf_counter()
                _wait(lambda: receiver.accepted >= COUNT)
                delivery_seconds = time.perf_counter() - opened
        return {
            "engine": name,
            "batch_answer": answered,
            "batch_seconds": batch_seconds,
            "document_bytes": size,
            "single_seconds": single_seconds,
            "deliveries_per_second": COUNT / delivery_seconds,
            "batch_rss_mb": batch_rss,
        }
    finally:
        receiver.server.shutdown()
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    results = [run_engine(name) for name in engines]
    print(f"\nBatch, singles and webhooks — {COUNT} charges, {os.cpu_count()} cores\n")
    header = (
        f"{'engine':<11}{'batch POST answered':>20}{'batch acked by ResMan':>23}"
        f"{'MITS document':>15}{'1,000 singles acked':>21}{'webhook deliveries/s':>22}"
        f"{'API peak RSS':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['engine']:<11}{r['batch_answer'] * 1000:>17.0f} ms{r['batch_seconds']:>21.2f} s"
            f"{r['document_bytes'] / 1024:>12.0f} KB{r['single_seconds']:>19.1f} s"
            f"{r['deliveries_per_second']:>22.0f}{r['batch_rss_mb']:>11.0f} MB"
        )
    print(
        "\ntargets: the batch reaches the sandbox in under 2 s; ≥ 200 webhook deliveries/s; "
        "the API under 200 MB through the batch\n"
    )


if __name__ == "__main__":
    main()
