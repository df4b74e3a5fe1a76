"""Every route of ours × every scope: the scope a route needs is enforced, on every route.

The routes are read from our own OpenAPI document, so a new route cannot escape: it must be
given its scope here or this test fails.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import LiveStack

# (method, path) → the scopes that may call it.
READ = {"read"}
WRITE = {"write"}
ADMIN = {"admin"}
WRITE_OR_ADMIN = {"write", "admin"}
RECORD_PATHS = (
    "/v1/properties/",
    "/v1/residents/",
    "/v1/leases/",
    "/v1/floor-plans/",
    "/v1/units/",
    "/v1/charge-codes/",
    "/v1/resident-charges/",
    "/v1/resident-payments/",
    "/v1/fees/",
)


def required_scopes(method: str, path: str) -> set[str]:
    if method == "get" and path.startswith(RECORD_PATHS):
        return READ
    if method == "post" and path.startswith(("/v1/resident-charges", "/v1/resident-payments")):
        return WRITE
    if path.startswith(("/v1/admin/write-status/", "/v1/admin/retry-write/")):
        return WRITE_OR_ADMIN
    if path.startswith(("/v1/admin/", "/v1/webhooks")):
        return ADMIN
    raise AssertionError(f"{method.upper()} {path} has no scope in this test: give it one")


def _routes(stack: LiveStack) -> list[tuple[str, str]]:
    paths = stack.http.get("/openapi.json").json()["paths"]
    return sorted(
        (method, path)
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
        if method in ("get", "post", "put", "delete")
    )


def _call(client: Any, method: str, path: str) -> int:
    url = path
    for name in (
        "{id}",
        "{lease_id}",
        "{integration_id}",
        "{root_job_id}",
        "{webhook_id}",
        "{delivery_id}",
        "{charge_code_id}",
        "{resident_charge_id}",
        "{resident_payment_id}",
        "{fee_id}",
        "{floor_plan_id}",
        "{key_id}",
    ):
        url = url.replace(name, "nope")
    assert "{" not in url, url
    if method in ("post", "put"):
        return int(client.request(method, url, json={}).status_code)
    return int(client.request(method, url).status_code)


@pytest.mark.parametrize("scope", ["read", "write", "admin"])
def test_each_route_needs_its_scope(stack: LiveStack, scope: str) -> None:
    client = stack.client(stack.new_token(scopes=[scope]))
    routes = _routes(stack)
    assert len(routes) > 30
    for method, path in routes:
        status = _call(client, method, path)
        if scope in required_scopes(method, path):
            assert status not in (401, 403), (method, path, status)
        else:
            assert status == 403, (method, path, status)


def test_every_route_needs_a_key(stack: LiveStack) -> None:
    anonymous = stack.client(None)
    for method, path in _routes(stack):
        assert _call(anonymous, method, path) == 401, (method, path)
