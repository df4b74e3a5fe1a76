"""A sync whose worker is `kill -9`ed mid-run: the run shows failed once the worker's lease runs
out (no other worker has to reap it), and a manual sync starts a new one at once.

Real processes (sandbox, API without a worker, worker) on one database; the sandbox answers
slowly, so the sync is still reading when the worker dies.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from propbridge.integrations.credentials import generate_key_text
from tests.processes import Processes, query
from tests.support import free_port, http_up, wait_for

WORKER_STOPPED = "the worker running this sync stopped"


def test_a_killed_sync_worker_leaves_a_failed_run_and_no_block(
    own_database: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PROPBRIDGE_DATABASE_URL": own_database,
        "PROPBRIDGE_ENCRYPTION_KEY": generate_key_text(),
        "PROPBRIDGE_DATA_DIR": str(tmp_path),
        "PROPBRIDGE_WORKER_POLL_SECONDS": "0.05",
        "PROPBRIDGE_JOB_LEASE_SECONDS": "2",
        "PROPBRIDGE_LOG_LEVEL": "WARNING",
    }
    propbridge = [sys.executable, "-m", "propbridge"]
    subprocess.run([*propbridge, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*propbridge, "api-keys", "create", "--name", "dead-worker"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    sandbox_port, api_port = free_port(), free_port()
    procs = Processes(env, tmp_path)
    procs.start(
        "sandbox",
        [
            *("sandbox", "resman", "--port", str(sandbox_port), "--properties", "2"),
            *("--units", "30", "--months", "3", "--fault-latency-ms", "300"),
        ],
    )
    procs.start("api", ["serve", "--no-worker", "--port", str(api_port)])
    sandbox, api_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{api_port}"
    try:
        wait_for(lambda: http_up(f"{sandbox}/_sandbox/info"), timeout=60)
        wait_for(lambda: http_up(f"{api_url}/readyz"), timeout=60)
        api = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        integration = api.post(
            "/v1/admin/integrations/",
            json={
                "integration_vendor": "RESMAN",
                "name": "dead worker",
                "base_url": sandbox,
                "credentials": {
                    "integrationPartnerId": "1000",
                    "accountId": "400",
                    "apiKey": "0123456789abcdef0123456789abcdef",
                },
                "max_request_frequency": 10_000,
            },
        ).json()["result"]
        path = f"/v1/admin/integrations/{integration['id']}"

        def runs() -> list[dict[str, Any]]:
            answer = api.get(f"{path}/sync-runs", params={"order-by": "started_at:desc"})
            assert answer.status_code == 200, answer.text
            listed: list[dict[str, Any]] = answer.json()["results"]
            return listed

        dead_job = api.post(f"{path}/manual-sync").json()["result"]["job_id"]
        procs.start("worker", ["worker"])
        [running] = wait_for(lambda: [r for r in runs() if r["state"] == "running"], timeout=60)
        assert running["job_id"] == dead_job
        procs.kill("worker")

        # No worker is left to reap the job: the lease alone tells that its worker is gone.
        [shown] = wait_for(lambda: [r for r in runs() if r["state"] == "failed"], timeout=60)
        assert (shown["id"], shown["error"]) == (running["id"], WORKER_STOPPED)
        assert api.get(f"{path}/").json()["results"]["is_running_sync"] is False
        stored = query(own_database, "SELECT state FROM jobs WHERE id = $1", dead_job)
        assert stored == [("running",)]

        new_job = api.post(f"{path}/manual-sync").json()["result"]["job_id"]
        assert new_job != dead_job
        ended = query(own_database, "SELECT state, last_error FROM jobs WHERE id = $1", dead_job)
        assert ended == [("failed", WORKER_STOPPED)]
        recorded = query(
            own_database, "SELECT state, error FROM sync_runs WHERE job_id = $1", dead_job
        )
        assert recorded == [("failed", WORKER_STOPPED)]
        # Asked again while the new one waits for a worker: the same job, not a third.
        assert api.post(f"{path}/manual-sync").json()["result"]["job_id"] == new_job

        procs.start("worker", ["worker"])
        wait_for(lambda: api.get(f"{path}/").json()["results"]["last_completed_sync"], timeout=120)
        latest, earlier = runs()
        assert (latest["job_id"], latest["state"]) == (new_job, "succeeded")
        assert (earlier["job_id"], earlier["state"], earlier["error"]) == (
            dead_job,
            "failed",
            WORKER_STOPPED,
        )
    finally:
        procs.stop_all()
