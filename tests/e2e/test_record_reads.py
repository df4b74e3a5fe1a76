"""Record reads are read from the database on every request: the bookmarks deep pages start
from, the totals and the visible integrations kept between requests never outlive a change of
the tables they come from, and requests that arrive together share work without sharing
mistakes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from propbridge.sandbox.resman.seed import SeedSize
from tests.conftest import stack_of_its_own
from tests.support import LiveStack


@pytest.fixture(scope="module")
def own(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    # Its own stack: the test adds a ledger entry, which other tests' totals must not see.
    yield from stack_of_its_own(database_url, tmp_path_factory, SeedSize(2, 12, 11))


def _ids(stack: LiveStack, integration_id: str) -> list[str]:
    walked: list[str] = []
    while True:
        page = stack.http.get(
            "/v1/resident-charges/",
            params={"integration_id": integration_id, "limit": 250, "offset": len(walked)},
        ).json()
        walked += [r["id"] for r in page["results"]]
        if not page["meta"]["hasMore"]:
            return walked
        assert page["results"], f"hasMore with an empty page at offset {len(walked)}"


def _page(stack: LiveStack, integration_id: str, offset: int, limit: int) -> dict[str, Any]:
    response = stack.http.get(
        "/v1/resident-charges/",
        params={"integration_id": integration_id, "limit": limit, "offset": offset},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_deep_pages_follow_the_table_through_a_change(own: LiveStack) -> None:
    integration = own.create_integration()
    assert own.sync(integration["id"])["state"] == "succeeded"
    walked = _ids(own, integration["id"])
    assert len(walked) > 1700
    # The first read of an area finds its bookmark; the later ones start from it.
    for offset, limit in ((1450, 100), (1450, 100), (1000, 7), (1999, 5), (1700, 100)):
        page = _page(own, integration["id"], offset, limit)
        assert [r["id"] for r in page["results"]] == walked[offset : offset + limit]
        assert page["meta"]["total"] == len(walked)
    # Twenty requests at once for a new area: one walk, the same right answer for each.
    with ThreadPoolExecutor(20) as pool:
        pages = list(pool.map(lambda _: _page(own, integration["id"], 1234, 10), range(20)))
    assert all([r["id"] for r in p["results"]] == walked[1234:1244] for p in pages)

    lease = own.http.get(
        "/v1/leases/", params={"integration_id": integration["id"], "status_normalized": "ACTIVE"}
    ).json()["results"][0]
    posted = own.sandbox.post(
        "/_sandbox/ledger/transactions",
        json={
            "lease_id": lease["x_id"],
            "charge_code": "LATE",
            "amount": "5.00",
            "date": own.clock.today().isoformat(),
            "description": "Late fee (staff)",
        },
    )
    assert posted.status_code == 200, posted.text
    assert own.sync(integration["id"])["state"] == "succeeded"
    # The new charge is the newest: every deep page moves down by one, and the total grows.
    now = _ids(own, integration["id"])
    assert now[1:] == walked
    with ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda _: _page(own, integration["id"], 1450, 100), range(8)))
    for page in pages:
        assert [r["id"] for r in page["results"]] == now[1450:1550]
        assert page["results"][0]["id"] == walked[1449]
        assert page["meta"]["total"] == len(walked) + 1


def test_a_deleted_integration_disappears_from_reads_at_once(own: LiveStack) -> None:
    integration = own.create_integration()
    assert own.sync(integration["id"])["state"] == "succeeded"
    params = {"integration_id": integration["id"], "limit": 5}
    charge = own.http.get("/v1/resident-charges/", params=params).json()["results"][0]
    assert own.http.get(f"/v1/resident-charges/{charge['id']}").status_code == 200
    deleted = own.http.delete(f"/v1/admin/integrations/{integration['id']}/")
    assert deleted.status_code in (200, 204), deleted.text
    gone = own.http.get("/v1/resident-charges/", params=params).json()
    assert gone["results"] == [] and gone["meta"]["total"] == 0
    assert own.http.get(f"/v1/resident-charges/{charge['id']}").status_code == 404
