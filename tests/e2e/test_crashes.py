"""`kill -9` of the worker and of the API while writes and syncs run, then restarts.

No acknowledged write may be lost, none sent twice; leases expire and work resumes; syncs leave
no duplicates. Processes are real OS processes; kill moments come from a seeded generator.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from propbridge.integrations.credentials import generate_key_text
from tests.processes import Processes, query
from tests.support import free_port, http_up, wait_for


def test_kill_9_at_random_moments_loses_and_doubles_nothing(
    own_database: str, tmp_path: Path
) -> None:
    import sys

    os.environ.setdefault("PYTHON", sys.executable)
    rng = random.Random(20261124)
    env = {
        **os.environ,
        "PROPBRIDGE_DATABASE_URL": own_database,
        "PROPBRIDGE_ENCRYPTION_KEY": generate_key_text(),
        "PROPBRIDGE_DATA_DIR": str(tmp_path),
        "PROPBRIDGE_WORKER_POLL_SECONDS": "0.05",
        "PROPBRIDGE_JOB_LEASE_SECONDS": "3",
        "PROPBRIDGE_RETRY_BASE_SECONDS": "0.05",
        "PROPBRIDGE_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "propbridge", "migrate"], env=env, check=True, capture_output=True
    )
    token = (
        subprocess.run(
            [sys.executable, "-m", "propbridge", "api-keys", "create", "--name", "crash"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    sandbox_port, api_port = free_port(), free_port()
    procs = Processes(env, tmp_path)
    procs.start(
        "sandbox",
        [
            "sandbox",
            "resman",
            "--port",
            str(sandbox_port),
            "--properties",
            "2",
            "--units",
            "30",
            "--months",
            "3",
            "--fault-latency-ms",
            "20",
        ],
    )
    procs.start("api", ["serve", "--no-worker", "--port", str(api_port)])
    procs.start("worker", ["worker"])
    sandbox, api_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{api_port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        wait_for(lambda: http_up(f"{sandbox}/_sandbox/info"), timeout=60)
        wait_for(lambda: http_up(f"{api_url}/readyz"), timeout=60)
        api = httpx.Client(base_url=api_url, headers=headers, timeout=10)
        integration = api.post(
            "/v1/admin/integrations/",
            json={
                "integration_vendor": "RESMAN",
                "name": "crash",
                "base_url": sandbox,
                "credentials": {
                    "integrationPartnerId": "1000",
                    "accountId": "400",
                    "apiKey": "0123456789abcdef0123456789abcdef",
                },
                "max_request_frequency": 10_000,
                "max_job_concurrency": 20,
            },
        ).json()["result"]
        api.post(f"/v1/admin/integrations/{integration['id']}/manual-sync")
        wait_for(
            lambda: api.get(f"/v1/admin/integrations/{integration['id']}/").json()["results"][
                "last_completed_sync"
            ],
            timeout=90,
        )
        residents = [
            r
            for r in api.get("/v1/residents/", params={"limit": 250}).json()["results"]
            if r["x_lease_id"]
        ]
        codes = {
            c["property_id"]: c["id"]
            for c in api.get("/v1/charge-codes/", params={"limit": 250}).json()["results"]
            if c["code"] == "PETF"
        }
        batch = f"crash-{uuid.uuid4().hex[:6]}"
        acknowledged: list[str] = []
        refusals: dict[str, str] = {}  # the last answer other than 200, per reference
        done = threading.Event()

        def post_charges() -> None:
            with httpx.Client(base_url=api_url, headers=headers, timeout=5) as client:
                for i in range(160):
                    resident = residents[i % len(residents)]
                    body = {
                        "integration_id": integration["id"],
                        "resident_id": resident["id"],
                        "charge_code_id": codes[resident["property_id"]],
                        "batch_id": batch,
                        "transaction_date": "2026-11-15T09:00:00Z",
                        "description": "crash test",
                        "notes": str(i),
                        "amount_in_cents": 300 + i,
                        "reference_number": f"K-{i}",
                    }
                    # A client retrying the same body until answered (for as long as a
                    # restarting API may take on a loaded machine, not a number of tries).
                    patience = time.monotonic() + 90
                    while time.monotonic() < patience:
                        try:
                            response = client.post("/v1/resident-charges/resman/", json=body)
                        except httpx.TransportError as error:
                            refusals[body["reference_number"]] = type(error).__name__
                            time.sleep(0.1)
                            continue
                        if response.status_code == 200:
                            acknowledged.append(body["reference_number"])
                            break
                        refusals[body["reference_number"]] = (
                            f"{response.status_code} {response.text}"
                        )
                        time.sleep(0.1)
                    time.sleep(0.02)
            done.set()

        poster = threading.Thread(target=post_charges)
        poster.start()
        kills = 0
        while not done.is_set() or kills < 4:
            time.sleep(rng.uniform(0.3, 1.2))
            victim = rng.choice(["worker", "api", "worker"])
            if victim == "worker" and rng.random() < 0.5:
                httpx.post(
                    f"{api_url}/v1/admin/integrations/{integration['id']}/manual-sync",
                    headers=headers,
                    timeout=5,
                ) if http_up(f"{api_url}/readyz") else None
                time.sleep(rng.uniform(0.05, 0.5))  # ... and kill it mid-sync
            procs.kill(victim)
            kills += 1
            time.sleep(rng.uniform(0.1, 0.6))
            procs.start(victim)
            if kills > 12:
                break
        poster.join(300)
        assert done.is_set()
        wait_for(lambda: http_up(f"{api_url}/readyz"), timeout=60)

        def settled() -> bool:
            rows = query(
                own_database, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
            )
            return rows[0][0] == 0

        wait_for(settled, timeout=120, interval=0.5)
        # No acknowledged write lost.
        stored = {row[0] for row in query(own_database, "SELECT reference_number FROM write_items")}
        assert set(acknowledged) <= stored
        assert len(acknowledged) == 160, {
            ref: why for ref, why in refusals.items() if ref not in acknowledged
        }
        # No write sent twice: ResMan holds each reference at most once.
        pending = httpx.get(f"{sandbox}/_sandbox/partner-transactions").json()["results"]
        held = Counter(p["reference"] for p in pending if p["reference"].startswith("K-"))
        assert not held or max(held.values()) == 1, held
        # Every write ended; an unknown outcome only where a post was cut short by a kill.
        statuses = Counter(row[0] for row in query(own_database, "SELECT status FROM write_items"))
        assert set(statuses) <= {"ACCEPTED", "OUTCOME_UNKNOWN", "REJECTED"}, statuses
        accepted = {
            row[0]
            for row in query(
                own_database, "SELECT reference_number FROM write_items WHERE status = 'ACCEPTED'"
            )
        }
        assert accepted <= set(held)
        # Syncs left no duplicates, and a last one completes.
        api = httpx.Client(base_url=api_url, headers=headers, timeout=10)
        job = api.post(f"/v1/admin/integrations/{integration['id']}/manual-sync").json()
        assert job["result"]["success"] is True
        wait_for(settled, timeout=120, interval=0.5)
        for table in ("resident_charges", "leases", "residents", "units"):
            total, distinct = query(
                own_database,
                f"SELECT count(*), count(DISTINCT x_property_id || '/' || x_id) FROM {table}",  # noqa: S608
            )[0]
            assert total == distinct, table
        runs = query(own_database, "SELECT state FROM sync_runs ORDER BY started_at DESC")
        assert runs[0][0] == "succeeded"
    finally:
        procs.stop_all()
