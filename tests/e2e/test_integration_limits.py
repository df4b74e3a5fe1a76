"""An integration's PMS request budget and job concurrency hold, counted in the database."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from propbridge.connectors.base import RetryableError
from propbridge.integrations.request_budget import RequestBudget
from propbridge.jobs.models import Job
from propbridge.sandbox.resman.seed import SeedSize
from tests.e2e.test_ledger_and_reconciliation import _status
from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack


def test_budget_spreads_requests_over_windows(own_database: str, tmp_path: Path) -> None:
    live = LiveStack(own_database, tmp_path / "d", SeedSize(1, 2, 1))
    try:

        async def take(budget: RequestBudget, n: int) -> list[int]:
            return [await budget() for _ in range(n)]

        async def run() -> list[int]:
            # Two budget holders of one integration (as two processes would be) share it.
            first = RequestBudget(live.runtime.database, "integration-x", 3, "SECOND")
            second = RequestBudget(live.runtime.database, "integration-x", 3, "SECOND")
            a, b = await asyncio.gather(take(first, 6), take(second, 6))
            return sorted(a + b)

        windows = live.call(run())
        per_second: dict[int, int] = {}
        for window in windows:
            per_second[window] = per_second.get(window, 0) + 1
        assert max(per_second.values()) <= 3, per_second
        assert len(per_second) >= 4

        async def spent() -> None:
            slow = RequestBudget(live.runtime.database, "integration-y", 1, "HOUR")
            await slow()
            await slow()

        try:
            live.call(spent())
        except RetryableError as error:
            assert error.retry_after is not None and error.retry_after > 5
        else:
            raise AssertionError("a spent hourly budget must give up, not wait an hour")
    finally:
        live.close()


def test_writes_respect_the_budget_and_concurrency(own_database: str, tmp_path: Path) -> None:
    live = LiveStack(own_database, tmp_path / "d", SeedSize(1, 10, 1))
    try:
        integration = live.create_integration(
            max_request_frequency=5, max_request_cadence="SECOND", max_job_concurrency=2
        )
        live.sync(integration["id"])
        residents = [
            r for r in live.http.get("/v1/residents/").json()["results"] if r["x_lease_id"]
        ]
        codes = live.http.get("/v1/charge-codes/", params={"limit": 250}).json()["results"]
        synced: dict[str, Any] = {
            "integration": integration,
            "residents": residents,
            "charge_codes": codes,
        }
        samples: list[int] = []
        sampling = threading.Event()

        async def running() -> int:
            async with live.runtime.database.read() as session:
                return int(
                    (
                        await session.execute(
                            select(func.count()).where(
                                Job.state == "running", Job.integration_id == integration["id"]
                            )
                        )
                    ).scalar_one()
                )

        def sample() -> None:
            while not sampling.is_set():
                samples.append(live.call(running()))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.time()
        try:
            jobs = [
                live.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()["meta"][
                    "job_id"
                ]
                for _ in range(15)
            ]
            for job_id in jobs:
                assert _status(live, job_id)["write_status"] == "SUCCESS"
        finally:
            sampling.set()
            sampler.join(10)
        elapsed = time.time() - started
        # 15 posts at 5 a second need at least two full windows after the first.
        assert elapsed >= 2.0
        # Never more than two of this integration's jobs running at once.
        assert max(samples) <= 2, max(samples)
    finally:
        live.close()
