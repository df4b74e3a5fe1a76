"""Benchmark of the read side: sync throughput against a floor, and the resident-charges list.

For each engine: a sandbox seeded at `BENCH_PROPERTIES × BENCH_UNITS × BENCH_MONTHS` (default
20 × 250 × 24, the issue's size), a first sync timed from its sync-run record, an unchanged
incremental re-sync and an unchanged full re-sync (checkpoints dropped), each checked to write no
record. The floor, measured in the same run: fetching and JSON-parsing the same pages plus a raw
bulk insert of as many rows with the database driver alone. Then wrk (32 connections) on
`GET /v1/resident-charges/` beside `GET /healthz`. Run it with `make bench`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from harness import (
    PROPBRIDGE,
    SANDBOX_CREDENTIALS,
    Engine,
    Stack,
    free_port,
    parse_time,
    peak_rss_mb,
    process,
    run_measured,
    running_stack,
    wait_http,
    wrk,
)

SIZE = [
    os.environ.get("BENCH_PROPERTIES", "20"),
    os.environ.get("BENCH_UNITS", "250"),
    os.environ.get("BENCH_MONTHS", "24"),
]
RECORD_TABLES = (
    "properties",
    "charge_codes",
    "units",
    "leases",
    "residents",
    "resident_charges",
    "resident_payments",
    "fees",
)


def last_run(engine: Engine) -> dict[str, Any]:
    row = engine.query(
        "SELECT started_at, finished_at, counts FROM sync_runs ORDER BY started_at DESC LIMIT 1"
    )[0]
    counts = row[2] if isinstance(row[2], dict) else json.loads(row[2])
    seconds = parse_time(row[1]) - parse_time(row[0])
    records = sum(sum(c.values()) for c in counts.values())
    return {
        "seconds": seconds,
        "records": records,
        "counts": counts,
        "written": sum(c["new"] + c["updated"] for c in counts.values()),
    }


def rows_touched_since(engine: Engine, moment: str) -> int:
    total = 0
    for table in RECORD_TABLES:
        total += engine.query(
            f"SELECT COUNT(*) FROM {table} WHERE updated_at >= '{moment}' "  # noqa: S608
            f"OR last_seen >= '{moment}'"
        )[0][0]
    return total


def fetch_pages(stack: Stack) -> list[tuple[Any, ...]]:
    """The floor's fetch: every page the sync reads, as the connector reads it (categories one
    type per call, each account's ledger where it has payments), parsed, flattened to rows."""
    creds = SANDBOX_CREDENTIALS
    auth = httpx.BasicAuth(creds["integrationPartnerId"], creds["apiKey"])
    headers = {"ResMan-Account-Id": creds["accountId"]}
    since = format_datetime(datetime.now(UTC) - timedelta(days=363), usegmt=True)
    rows: list[tuple[Any, ...]] = []
    with httpx.Client(base_url=stack.sandbox_url, auth=auth, headers=headers, timeout=300) as http:

        def get(path: str, **params: str) -> Any:
            return json.loads(http.get(path, params=params).content, parse_float=Decimal)

        props = get("/Properties")["properties"]
        rows += [(p["propertyId"], p["propertyId"], "property", json.dumps(p)) for p in props]
        categories = [
            c
            for kind in ("Charge", "Credit", "Payment", "Deposit")
            for c in get("/TransactionCategories", types=kind)["transactionCategories"]
        ]
        for prop in props:
            pid = prop["propertyId"]
            rows += [(c["transactionCategoryId"], pid, "code", json.dumps(c)) for c in categories]
            rows += [
                (u["unitId"], pid, "unit", json.dumps(u, default=str))
                for u in get("/Units", propertyId=pid)["units"]
            ]
            leases = get(
                "/Leasing/Leases", propertyId=pid, modifiedSince=since, includeLeaseHistory="true"
            )["leases"]
            for lease in leases:
                rows.append((lease["leaseId"], pid, "lease", json.dumps(lease, default=str)))
                rows += [(p["personId"], pid, "person", json.dumps(p)) for p in lease["people"]]
            accounts = get(
                "/BillingAccounts", propertyId=pid, modifiedSince=since, includeTransactions="true"
            )["billingAccounts"]
            for account in accounts:
                ledger: dict[str, Any] = {}
                if any(t["type"] == "Payment" for t in account["transactions"]):
                    ledger = {
                        row["transactionId"]: row
                        for row in get(
                            "/Transactions/Ledger",
                            propertyId=pid,
                            billingAccountId=account["billingAccountId"],
                            postedSince=since,
                        )["transactions"]
                    }
                rows += [
                    (
                        t["id"],
                        pid,
                        t["type"],
                        json.dumps({**t, "ledger": ledger.get(t["id"])}, default=str),
                    )
                    for t in account["transactions"]
                ]
    return rows


def floor_insert(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    """The floor's write: one bulk insert of the rows with the driver alone."""
    if engine.pg_name:

        async def insert() -> None:
            import asyncpg

            connection = await asyncpg.connect(
                f"postgresql://postgres@127.0.0.1:5432/{engine.pg_name}"
            )
            await connection.execute(
                "CREATE TABLE floor_rows (x_id text, x_property_id text, kind text, raw text)"
            )
            await connection.copy_records_to_table("floor_rows", records=rows)
            await connection.close()

        asyncio.run(insert())
        return
    with sqlite3.connect(engine.workdir / "propbridge.db") as connection:
        connection.execute("CREATE TABLE floor_rows (x_id, x_property_id, kind, raw)")
        connection.executemany("INSERT INTO floor_rows VALUES (?, ?, ?, ?)", rows)


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-sync-{name}-"))
    engine = Engine(name, workdir)
    try:
        args = ["--properties", SIZE[0], "--units", SIZE[1], "--months", SIZE[2]]
        with running_stack(engine, workdir, args) as stack:
            _, sync_rss = run_measured([*PROPBRIDGE, "sync", stack.integration_id], stack.env)
            first = last_run(engine)
            first["peak_rss_mb"] = sync_rss
            before = engine.query("SELECT CURRENT_TIMESTAMP")[0][0]
            time.sleep(1.1)
            mark = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
            stack.cli("sync", stack.integration_id)
            incremental = last_run(engine)
            incremental["touched"] = rows_touched_since(engine, mark)
            engine.query("DELETE FROM sync_checkpoints")
            stack.cli("sync", stack.integration_id)
            full = last_run(engine)
            full["touched"] = rows_touched_since(engine, mark)
            del before
            started = time.perf_counter()
            rows = fetch_pages(stack)
            fetched = time.perf_counter()
            floor_insert(engine, rows)
            floor = {
                "seconds": time.perf_counter() - started,
                "fetch": fetched - started,
                "records": len(rows),
            }
            total = stack.http.get(
                "/v1/resident-charges/", params={"integration_id": stack.integration_id, "limit": 1}
            ).json()["meta"]["total"]
            sample = stack.http.get(
                "/v1/resident-charges/", params={"integration_id": stack.integration_id, "limit": 1}
            ).json()["results"][0]
            day = sample["transaction_date"]
            deep = min(900000, max(total - 100, 0))
            queries = {
                "first page": f"?integration_id={stack.integration_id}&limit=100",
                "one resident, one month": f"?integration_id={stack.integration_id}&limit=100"
                f"&resident_id={sample['resident_id']}"
                f"&transaction_date_start={day[:8]}01&transaction_date_end={day[:8]}28",
                "by id": sample["id"],
                f"offset={deep}": f"?integration_id={stack.integration_id}&limit=100&offset={deep}",
            }
            token = {"TOKEN": stack.token}
            lists: dict[str, Any] = {"healthz": wrk(f"{stack.api_url}/healthz", "get.lua", {})}
            for label, query in queries.items():
                lists[label] = wrk(f"{stack.api_url}/v1/resident-charges/{query}", "get.lua", token)
            api_rss = peak_rss_mb(stack.api_pid)
            # The floor (bench/floor_reads.py) on the same database, for the same requests.
            port = free_port()
            with process(
                [
                    sys.executable,
                    str(Path(__file__).parent / "floor_reads.py"),
                    engine.url,
                    str(port),
                ],
                {},
                workdir / "floor.log",
            ):
                wait_http(f"http://127.0.0.1:{port}/v1/resident-charges/x")
                floor_lists = {
                    label: wrk(
                        f"http://127.0.0.1:{port}/v1/resident-charges/{query}", "get.lua", token
                    )
                    for label, query in queries.items()
                }
            # The same first page from `serve --processes 2` (one Python process per core).
            port = free_port()
            with process(
                [*PROPBRIDGE, "serve", "--no-worker", "--processes", "2", "--port", str(port)],
                stack.env,
                workdir / "api2.log",
            ):
                wait_http(f"http://127.0.0.1:{port}/healthz")
                two = f"http://127.0.0.1:{port}/v1/resident-charges/"
                for label in ("first page", "one resident, one month"):
                    lists[f"{label}, --processes 2"] = wrk(
                        f"{two}{queries[label]}", "get.lua", token
                    )
            return {
                "engine": name,
                "first": first,
                "incremental": incremental,
                "full": full,
                "floor": floor,
                "lists": lists,
                "floor_lists": floor_lists,
                "api_rss_mb": api_rss,
                "charges": total,
            }
    finally:
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    results = [run_engine(name) for name in engines]
    print(
        f"\nSync — seed {SIZE[0]} properties × {SIZE[1]} units × {SIZE[2]} months, "
        f"{os.cpu_count()} cores\n"
    )
    header = (
        f"{'engine':<11}{'records':>9}{'first sync':>12}{'rec/s':>9}{'floor rec/s':>13}"
        f"{'x floor':>9}{'re-sync (incr.)':>17}{'written':>9}{'re-sync (full)':>16}"
        f"{'written':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        first, floor = r["first"], r["floor"]
        rate, floor_rate = first["records"] / first["seconds"], floor["records"] / floor["seconds"]
        print(
            f"{r['engine']:<11}{first['records']:>9}{first['seconds']:>11.1f}s{rate:>9.0f}"
            f"{floor_rate:>13.0f}{floor_rate / rate:>8.1f}x"
            f"{r['incremental']['seconds']:>16.1f}s{r['incremental']['touched']:>9}"
            f"{r['full']['seconds']:>15.1f}s{r['full']['touched']:>9}"
        )
    print(
        "\ntargets: first sync within 2x of the floor; unchanged re-sync ≥ 2x faster than the "
        "first and writing 0 records\n"
    )
    print(
        f"GET /v1/resident-charges/ — 32 connections, {os.environ.get('BENCH_SECONDS', '10')}s each; "
        "the floor is bench/floor_reads.py on the same database\n"
    )
    header = (
        f"{'engine':<11}{'query':<38}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}"
        f"{'floor req/s':>12}{'floor p99':>10}{'x floor':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        for label, m in r["lists"].items():
            floor = r["floor_lists"].get(label)
            versus = (
                f"{floor['rps']:>12.0f}{floor['p99_ms']:>10.1f}{floor['rps'] / m['rps']:>7.2f}x"
                if floor
                else ""
            )
            print(
                f"{r['engine']:<11}{label:<38}{m['rps']:>8.0f}{m['p50_ms']:>8.1f}"
                f"{m['p99_ms']:>8.1f}{m['non2xx']:>8}{versus}"
            )
        print(
            f"{r['engine']:<11}peak RSS: API {r['api_rss_mb']:.0f} MB through the list loads, "
            f"first sync {r['first']['peak_rss_mb']:.0f} MB"
        )
    print(
        "\ntargets: first page and one resident within 1.5x of the floor (>= 1,000 req/s) with "
        "p99 <= 60 ms; by id within 1.5x; deep pages <= 50 ms; API < 200 MB, sync < 500 MB"
    )


if __name__ == "__main__":
    main()
