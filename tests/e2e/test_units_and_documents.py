"""Floor plans and units, the links that point at them, and the stored documents lists serve."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from propbridge.billing.models import ResidentCharge
from tests.support import LiveStack, assert_matches_openapi, list_all


def test_floor_plans_and_units_match_the_sandbox_and_the_schema(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    info = stack.sandbox.get("/_sandbox/info").json()
    units = list_all(stack, "/v1/units/", integration_id=integration_id)
    plans = list_all(stack, "/v1/floor-plans/", integration_id=integration_id)
    assert len(units) == info["counts"]["units"]
    assert {p["code"] for p in plans} == {"A1", "B1", "C1"}
    assert sum(p["unit_count"] for p in plans) == len(units)
    for path, by_id in (
        ("/v1/units/", "/v1/units/{id}"),
        ("/v1/floor-plans/", "/v1/floor-plans/{floor_plan_id}"),
    ):
        page = stack.http.get(path, params={"integration_id": integration_id, "limit": 3})
        assert_matches_openapi(path, "get", page.json())
        one = stack.http.get(f"{path}{page.json()['results'][0]['id']}")
        assert one.status_code == 200
        assert_matches_openapi(by_id, "get", one.json())
        assert stack.http.get(f"{path}no-such-id").status_code == 404
    plan_by_id = {p["id"]: p for p in plans}
    for unit in units:
        plan = plan_by_id[unit["floor_plan_id"]]
        assert unit["x_floor_plan_id"] == plan["code"] == unit["floor_plan_code"]
        assert unit["floor_plan_name"] == plan["name"]
        assert unit["property_id"] == plan["property_id"]
        assert unit["rent_amount_market_in_cents"] > 0 and unit["number"]
    numbered = units[0]
    found = stack.http.get(
        "/v1/units/",
        params={"property_id": numbered["property_id"], "unit_number": numbered["number"]},
    ).json()
    assert [u["id"] for u in found["results"]] == [numbered["id"]]


def test_leases_charges_payments_and_fees_link_to_units_and_floor_plans(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    integration_id = synced["integration"]["id"]
    units = {u["id"]: u for u in list_all(stack, "/v1/units/", integration_id=integration_id)}
    leases = {
        lease["id"]: lease
        for lease in list_all(stack, "/v1/leases/", integration_id=integration_id)
    }
    for lease in leases.values():
        unit = units[lease["unit_id"]]
        assert unit["x_id"] == lease["x_unit_id"].lower()
        assert unit["number"] == lease["unit_number"]
    lease = next(iter(leases.values()))
    for path in ("/v1/resident-charges/", "/v1/resident-payments/"):
        records = list_all(stack, path, lease_id=lease["id"])
        assert records and {r["unit_id"] for r in records} == {lease["unit_id"]}
    plans = {p["id"]: p for p in list_all(stack, "/v1/floor-plans/", integration_id=integration_id)}
    fees = list_all(stack, "/v1/fees/", integration_id=integration_id)
    per_plan = [f for f in fees if f["x_floor_plan_id"]]
    assert per_plan and all(
        plans[f["floor_plan_id"]]["code"] == f["x_floor_plan_id"] for f in per_plan
    )
    assert all(f["floor_plan_id"] is None for f in fees if not f["x_floor_plan_id"])
    some_plan = per_plan[0]["floor_plan_id"]
    assert {f["floor_plan_id"] for f in list_all(stack, "/v1/fees/", floor_plan_id=some_plan)} == {
        some_plan
    }


@pytest.mark.parametrize("order", ["created_at:desc", "amount_in_cents:asc"])
def test_rows_without_a_stored_document_are_served_the_same(
    stack: LiveStack, synced: dict[str, Any], order: str
) -> None:
    """Records written before documents existed have none; they must read exactly alike."""
    params = {"integration_id": synced["integration"]["id"], "limit": 20, "order-by": order}
    before = stack.http.get("/v1/resident-charges/", params=params).json()
    ids = [r["id"] for r in before["results"]]

    async def forget(documents: dict[str, str | None]) -> dict[str, str | None]:
        async with stack.runtime.database.write() as session:
            kept = dict(
                (
                    await session.execute(
                        select(ResidentCharge.id, ResidentCharge.document).where(
                            ResidentCharge.id.in_(ids[::2])
                        )
                    )
                ).all()
            )
            for record_id in ids[::2]:
                await session.execute(
                    update(ResidentCharge)
                    .where(ResidentCharge.id == record_id)
                    .values(document=documents.get(record_id))
                )
        return kept

    kept = stack.call(forget({}))
    try:
        assert all(kept.values())
        after = stack.http.get("/v1/resident-charges/", params=params).json()
        assert after == before
        one = stack.http.get(f"/v1/resident-charges/{ids[0]}").json()
        assert one["results"] == before["results"][0]
    finally:
        stack.call(forget(kept))


@pytest.mark.parametrize("order", ["created_at:desc", "transaction_date:asc,amount_in_cents:desc"])
def test_deep_pages_are_the_same_slice_as_walking_there(
    stack: LiveStack, synced: dict[str, Any], order: str
) -> None:
    params = {"integration_id": synced["integration"]["id"], "order-by": order}
    walked: list[str] = []
    while len(walked) < 1600:
        page = stack.http.get(
            "/v1/resident-charges/", params={**params, "limit": 250, "offset": len(walked)}
        ).json()
        walked += [r["id"] for r in page["results"]]
    deep = stack.http.get(
        "/v1/resident-charges/", params={**params, "limit": 100, "offset": 1450}
    ).json()
    assert [r["id"] for r in deep["results"]] == walked[1450:1550]
    assert deep["meta"]["offset"] == 1450 and deep["meta"]["hasMore"] is True
