"""Propexo's list conventions on the read endpoints: paging, ordering, filters, 404s."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support import LiveStack


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "251"},
        {"limit": "x"},
        {"offset": "-1"},
        {"offset": "1.5"},
        {"order-by": "nope:asc"},
        {"order-by": "created_at:sideways"},
        {"updated_at_gte": "not-a-date"},
        {"integration_vendor": "NOPE"},
    ],
)
def test_malformed_list_parameters_are_400(stack: LiveStack, params: dict[str, str]) -> None:
    response = stack.http.get("/v1/residents/", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["issues"]


def test_paging_is_exact(stack: LiveStack, synced: dict[str, Any]) -> None:
    integration_id = synced["integration"]["id"]
    seen: list[str] = []
    offset = 0
    while True:
        page = stack.http.get(
            "/v1/residents/",
            params={
                "integration_id": integration_id,
                "limit": 7,
                "offset": offset,
                "order-by": "last_name:asc,first_name:desc",
            },
        ).json()
        seen += [r["id"] for r in page["results"]]
        assert page["meta"]["total"] == len(synced["residents"])
        assert page["meta"]["orderBy"] == [
            {"field": "last_name", "direction": "asc"},
            {"field": "first_name", "direction": "desc"},
        ]
        if not page["meta"]["hasMore"]:
            break
        offset += 7
    assert len(seen) == len(set(seen)) == len(synced["residents"])
    stamps = [r[k] for r in synced["residents"] for k in ("created_at", "updated_at", "last_seen")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t) for t in stamps)
    names = [
        r["last_name"]
        for r in stack.http.get(
            "/v1/residents/",
            params={"integration_id": integration_id, "limit": 250, "order-by": "last_name"},
        ).json()["results"]
    ]
    assert names == sorted(names)


def test_leases_by_resident_and_residents_by_property(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    resident = next(r for r in synced["residents"] if r["leases_meta_data"])
    leases = stack.http.get("/v1/leases/", params={"resident_id": resident["id"]}).json()
    assert {lease["id"] for lease in leases["results"]} == {
        m["lease_id"] for m in resident["leases_meta_data"]
    }
    by_property = stack.http.get(
        "/v1/residents/", params={"property_id": resident["property_id"], "limit": 250}
    ).json()
    assert by_property["results"] and all(
        r["property_id"] == resident["property_id"] for r in by_property["results"]
    )
    assert resident["id"] in {r["id"] for r in by_property["results"]}
    active = stack.http.get(
        "/v1/leases/",
        params={
            "status_normalized": "ACTIVE",
            "limit": 250,
            "integration_id": synced["integration"]["id"],
        },
    )
    assert all(lease["status_normalized"] == "ACTIVE" for lease in active.json()["results"])
    assert stack.http.get("/v1/leases/", params={"unit_number": "101"}).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/v1/residents/",
        "/v1/leases/",
        "/v1/properties/",
        "/v1/charge-codes/",
        "/v1/resident-charges/",
        "/v1/resident-payments/",
        "/v1/fees/",
        "/v1/units/",
        "/v1/floor-plans/",
    ],
)
def test_unknown_ids_are_404(stack: LiveStack, path: str) -> None:
    response = stack.http.get(f"{path}does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_routes_and_methods_use_the_error_envelope(stack: LiveStack) -> None:
    assert stack.http.get("/v1/nothing-here/").json()["error"]["code"] == "not_found"
    response = stack.http.delete("/v1/residents/")
    assert response.status_code == 405 and "error" in response.json()
    assert stack.http.get("/healthz").json() == {"status": "ok"}
    assert stack.http.get("/readyz").status_code == 200
    assert "/v1/resident-charges/resman/" in stack.http.get("/openapi.json").json()["paths"]


def test_our_propexo_paths_are_spelled_as_propexo_spells_them(stack: LiveStack) -> None:
    from tests.support import _openapi

    propexo_paths = set(_openapi()[0]["paths"])
    ours = set(stack.http.get("/openapi.json").json()["paths"])
    shared_prefixes = (
        "/v1/properties/",
        "/v1/residents/",
        "/v1/leases/",
        "/v1/charge-codes/",
        "/v1/resident-charges/",
        "/v1/resident-payments/",
        "/v1/fees/",
        "/v1/units/",
        "/v1/floor-plans/",
    )
    ours_read = {p for p in ours if p.startswith(shared_prefixes) and not p.endswith("/resman/")}
    assert ours_read <= propexo_paths, ours_read - propexo_paths
    assert "/v1/admin/write-status/{root_job_id}" in ours & propexo_paths
