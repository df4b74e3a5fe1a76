"""The whole stack on days that break calendar code: a first sync sees the seeded ledger whole,
balances match to the cent, and a charge dated that day is posted, approved and reconciled."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from propbridge.sandbox.resman.seed import SeedSize
from tests.support import LiveStack, lease_balances, list_all, wait_for

DAYS = {
    "first of a month, just after midnight": datetime(2027, 3, 1, 0, 20, tzinfo=UTC),
    "last of a month, just before midnight": datetime(2026, 11, 30, 23, 50, tzinfo=UTC),
    "29 February": datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
    # 02:00 in Chicago, where US daylight saving time began that morning.
    "a daylight-saving change": datetime(2027, 3, 14, 8, 0, tzinfo=UTC),
    "31 December, late": datetime(2026, 12, 31, 23, 45, tzinfo=UTC),
}


@pytest.mark.parametrize("moment", DAYS.values(), ids=DAYS.keys())
def test_a_day_that_breaks_calendar_code(
    own_database: str, tmp_path: Path, moment: datetime
) -> None:
    live = LiveStack(own_database, tmp_path / "d", SeedSize(1, 6, 11), now=moment)
    try:
        integration = live.create_integration()
        assert live.sync(integration["id"])["state"] == "succeeded"
        ours, theirs = lease_balances(live, integration["id"])
        assert ours and ours == theirs
        charges = list_all(live, "/v1/resident-charges/", integration_id=integration["id"])
        months = {c["transaction_date"][:7] for c in charges}
        # Eleven months of ledger, the current one included, and nothing from the future.
        assert len(months) == 11 and max(months) == moment.date().isoformat()[:7]
        assert max(c["transaction_date"] for c in charges) <= moment.date().isoformat()

        resident = live.http.get(
            "/v1/residents/", params={"integration_id": integration["id"], "limit": 1}
        ).json()["results"][0]
        code = next(
            c
            for c in list_all(live, "/v1/charge-codes/", integration_id=integration["id"])
            if c["code"] == "PETF"
        )
        reference = f"CAL-{uuid.uuid4().hex[:8]}"
        body = {
            "integration_id": integration["id"],
            "resident_id": resident["id"],
            "charge_code_id": code["id"],
            "batch_id": "calendar",
            "transaction_date": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": "Pet fee",
            "notes": "a day that breaks calendar code",
            "amount_in_cents": 2500,
            "reference_number": reference,
        }
        job_id = live.http.post("/v1/resident-charges/resman/", json=body).json()["meta"]["job_id"]
        wait_for(
            lambda: (
                live.http.get(f"/v1/admin/write-status/{job_id}").json()["write_status"]
                == "SUCCESS"
            )
        )
        [item] = [
            i
            for i in live.sandbox.get("/_sandbox/partner-transactions").json()["results"]
            if i["reference"] == reference
        ]
        assert item["transaction_date"] == moment.date().isoformat()
        live.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/approve")
        assert live.sync(integration["id"])["state"] == "succeeded"
        status = live.http.get(f"/v1/admin/write-status/{job_id}").json()
        assert status["items"][0]["status"] == "POSTED"
        record = live.http.get(f"/v1/resident-charges/{status['created_record_id']}").json()
        assert record["results"]["transaction_date"] == moment.date().isoformat()
        ours, theirs = lease_balances(live, integration["id"])
        assert ours == theirs
    finally:
        live.close()
