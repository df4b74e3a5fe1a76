"""Time to first paint of each console page (and the sandbox's Partner Transactions page) with
the full seed synced, in Debian's Chromium driven by Playwright.

For each engine: a sandbox seeded at `BENCH_PROPERTIES × BENCH_UNITS × BENCH_MONTHS` (default
20 × 250 × 24), its first sync, `BENCH_WRITES` charges posted through the API (default 300,
left pending: no worker runs, so the sandbox's page also holds none), then each page loaded
`BENCH_LOADS` times (default 5; the median is printed). The floor, in the same run: the same
HTML, as the browser received it, served from memory by a bare HTTP server with the same
stylesheet and script, so the ratio is what propbridge's own work per page costs.
Run it with `python bench/bench_console.py [sqlite] [postgresql]`.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from harness import PROPBRIDGE, Engine, Stack, run_measured, running_stack

from propbridge.console.endpoints import STATIC
from tests.support import CHROMIUM_FLAGS

SIZE = [
    os.environ.get("BENCH_PROPERTIES", "20"),
    os.environ.get("BENCH_UNITS", "250"),
    os.environ.get("BENCH_MONTHS", "24"),
]
WRITES = int(os.environ.get("BENCH_WRITES", "300"))
LOADS = int(os.environ.get("BENCH_LOADS", "5"))
CHROMIUM = os.environ.get("PROPBRIDGE_CHROMIUM") or shutil.which("chromium") or "chromium"
# The paint entry is recorded after the frame is drawn, which may be after `load`: wait for it.
TIMING = """() => new Promise(resolve => {
  const nav = performance.getEntriesByType('navigation')[0];
  const answer = entry => resolve(
    {ttfb: nav.responseStart, fcp: entry ? entry.startTime : null, bytes: nav.transferSize});
  const found = performance.getEntriesByName('first-contentful-paint')[0];
  if (found) { answer(found); return; }
  new PerformanceObserver(list => answer(list.getEntries()[0])).observe({type: 'paint', buffered: true});
  setTimeout(() => answer(null), 5000);
})"""


class FloorServer:
    """Serves captured HTML by path, and the console's own static files, from memory."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        assets = {f"/console/static/{p.name}": p.read_bytes() for p in STATIC.iterdir()}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path) or assets.get(self.path)
                kind = "text/html; charset=utf-8"
                if self.path.endswith(".css"):
                    kind = "text/css"
                elif self.path.endswith(".js"):
                    kind = "text/javascript"
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def measure(page: Page, url: str) -> dict[str, float]:
    """Median time to first byte and to first contentful paint over `LOADS` loads."""
    samples = []
    for _ in range(LOADS):
        page.goto(url, wait_until="load")
        samples.append(page.evaluate(TIMING))
    return {
        "ttfb": statistics.median(s["ttfb"] for s in samples),
        "fcp": statistics.median(s["fcp"] for s in samples if s["fcp"] is not None),
        "bytes": samples[-1]["bytes"],
    }


def post_charges(stack: Stack) -> str:
    """`WRITES` charges on the synced integration; the last one's job."""
    params = {"integration_id": stack.integration_id, "limit": 250}
    residents = stack.http.get("/v1/residents/", params=params).json()["results"]
    codes = stack.http.get("/v1/charge-codes/", params=params).json()["results"]
    resident = next(r for r in residents if r["x_lease_id"])
    code = next(
        c for c in codes if c["property_id"] == resident["property_id"] and c["code"] == "PETF"
    )
    job_id = ""
    for n in range(WRITES):
        answer = stack.http.post(
            "/v1/resident-charges/resman/",
            json={
                "integration_id": stack.integration_id,
                "resident_id": resident["id"],
                "charge_code_id": code["id"],
                "batch_id": f"bench-{n // 50}",
                "transaction_date": "2026-11-02T10:00:00Z",
                "description": "bench",
                "notes": "bench_console",
                "amount_in_cents": 1000 + n,
                "reference_number": f"BENCH-{uuid.uuid4().hex[:12]}",
            },
        )
        if answer.status_code != 200:
            raise SystemExit(f"a charge was refused: {answer.text}")
        job_id = answer.json()["meta"]["job_id"]
    return job_id


def run_engine(name: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pb-bench-console-{name}-"))
    engine = Engine(name, workdir)
    try:
        args = ["--properties", SIZE[0], "--units", SIZE[1], "--months", SIZE[2]]
        with running_stack(engine, workdir, args) as stack:
            run_measured([*PROPBRIDGE, "sync", stack.integration_id], stack.env)
            job_id = post_charges(stack)
            charges = stack.http.get(
                "/v1/resident-charges/", params={"integration_id": stack.integration_id, "limit": 1}
            ).json()["meta"]["total"]
            pages = {
                "integrations": "/console/integrations",
                "sync runs": f"/console/sync-runs?integration_id={stack.integration_id}",
                "writes": "/console/writes",
                "a write": f"/console/writes/{job_id}",
                "webhooks": "/console/webhooks",
                "API keys": "/console/api-keys",
                "health": "/console/health",
                "sign in": "/console/sign-in",
            }
            floor = FloorServer()
            results: dict[str, Any] = {}
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = browser.new_page()
                page.goto(f"{stack.api_url}/console/sign-in")
                page.fill("#api-key", stack.token)
                page.click("button[type=submit]")
                page.wait_for_url(re.compile(".*/console/integrations"))
                for label, path in pages.items():
                    ours = measure(page, f"{stack.api_url}{path}")
                    floor.pages[path] = page.content().encode()
                    results[label] = (ours, measure(page, f"{floor.url}{path}"))
                sandbox_page = f"{stack.sandbox_url}/partner-transactions"
                ours = measure(page, sandbox_page)
                floor.pages["/partner-transactions"] = page.content().encode()
                results["Partner Transactions (sandbox)"] = (
                    ours,
                    measure(page, f"{floor.url}/partner-transactions"),
                )
                browser.close()
            floor.server.shutdown()
            return {"engine": name, "pages": results, "charges": charges}
    finally:
        engine.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    results = [run_engine(name) for name in engines]
    print(
        f"\nConsole pages — seed {SIZE[0]} × {SIZE[1]} × {SIZE[2]} synced, {WRITES} writes, "
        f"median of {LOADS} loads in Chromium, {os.cpu_count()} cores\n"
    )
    header = (
        f"{'engine':<11}{'page':<32}{'TTFB ms':>9}{'first paint ms':>16}{'KB':>7}"
        f"{'floor paint ms':>16}{'x floor':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        for label, (ours, floor) in r["pages"].items():
            print(
                f"{r['engine']:<11}{label:<32}{ours['ttfb']:>9.0f}{ours['fcp']:>16.0f}"
                f"{ours['bytes'] / 1024:>7.0f}{floor['fcp']:>16.0f}"
                f"{ours['fcp'] / max(floor['fcp'], 1):>8.1f}x"
            )
        print(f"{r['engine']:<11}({r['charges']:,} resident charges synced)")
    print(
        "\nThe floor is the same HTML served from memory by a bare HTTP server: "
        "the difference is propbridge's work per page."
    )


if __name__ == "__main__":
    main()
