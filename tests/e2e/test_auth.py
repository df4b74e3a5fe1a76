"""Bearer tokens, scopes and integration allow-lists on the routes of the seed path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack

READ_ROUTES = [
    "/v1/properties/",
    "/v1/residents/",
    "/v1/leases/",
    "/v1/charge-codes/",
    "/v1/admin/integrations/",
]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Basic abc",
        "Bearer nope",
        "bearer pb_unknown",
        "Bearer a b",
        "Token pb_x",
    ],
)
@pytest.mark.parametrize("route", READ_ROUTES)
def test_missing_malformed_or_unknown_tokens_are_401(
    stack: LiveStack, header: str | None, route: str
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    with stack.client(None) as client:
        response = client.get(route, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_write_without_token_is_401(stack: LiveStack, synced: dict[str, Any]) -> None:
    with stack.client(None) as client:
        assert client.post("/v1/resident-charges/resman/", json=_charge(synced)).status_code == 401


def _every_write_refused(client: Any, synced: dict[str, Any]) -> None:
    """Charges, payments, batches and generic writes to the synced integration: all 403."""
    assert client.post("/v1/resident-charges/resman/", json=_charge(synced)).status_code == 403
    assert client.post("/v1/resident-charges/", json=_charge(synced)).status_code == 403
    payment = {k: v for k, v in _charge(synced).items() if k != "charge_code_id"}
    payment["payment_type"] = "ACH"
    assert client.post("/v1/resident-payments/resman/", json=payment).status_code == 403
    assert client.post("/v1/resident-payments/", json=payment).status_code == 403
    batch = _charge(synced)
    batch_body = {"integration_id": batch.pop("integration_id"), "charges": [batch]}
    assert client.post("/v1/resident-charges/batch/resman/", json=batch_body).status_code == 403


def test_read_only_key_cannot_write_or_administer(stack: LiveStack, synced: dict[str, Any]) -> None:
    with stack.client(stack.new_token(["read"])) as client:
        assert client.get("/v1/residents/").status_code == 200
        _every_write_refused(client, synced)
        assert client.get("/v1/admin/integrations/").status_code == 403
        assert client.get("/v1/admin/write-status/x").status_code == 403


def test_write_only_key_cannot_read_records(stack: LiveStack) -> None:
    with stack.client(stack.new_token(["write"])) as client:
        assert client.get("/v1/residents/").status_code == 403


def test_allow_list_hides_other_integrations(stack: LiveStack, synced: dict[str, Any]) -> None:
    other = stack.create_integration()
    token = stack.new_token(["read", "write", "admin"], [other["id"]])
    resident = synced["residents"][0]
    with stack.client(token) as client:
        assert client.get(f"/v1/residents/{resident['id']}").status_code == 404
        listing = client.get(
            "/v1/residents/", params={"integration_id": synced["integration"]["id"]}
        )
        assert listing.json()["meta"]["total"] == 0
        _every_write_refused(client, synced)
        other_charge = stack.http.get(
            "/v1/resident-charges/",
            params={"integration_id": synced["integration"]["id"], "limit": 1},
        ).json()["results"][0]
        assert client.get(f"/v1/resident-charges/{other_charge['id']}").status_code == 404
        assert (
            client.get(f"/v1/admin/integrations/{synced['integration']['id']}/").status_code == 403
        )
        ids = [i["id"] for i in client.get("/v1/admin/integrations/").json()["results"]]
        assert ids == [other["id"]]
    job = stack.http.post("/v1/resident-charges/resman/", json=_charge(synced)).json()
    with stack.client(token) as client:
        assert client.get(f"/v1/admin/write-status/{job['meta']['job_id']}").status_code == 404


def test_unknown_job_is_404(stack: LiveStack) -> None:
    response = stack.http.get("/v1/admin/write-status/01234567-0000-7000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
