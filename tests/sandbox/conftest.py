"""The sandbox's tests: one clock and configuration, and a seeded sandbox per test."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from propbridge.clock import Clock
from propbridge.sandbox.resman.app import SandboxConfig, create_sandbox_app
from propbridge.sandbox.resman.seed import SeedSize, seed_store
from propbridge.sandbox.resman.store import SandboxStore
from tests.support import DEFAULT_NOW

CLOCK = Clock.starting_at(DEFAULT_NOW)
CONFIG = SandboxConfig(clock=CLOCK.now)
AUTH = {
    "IntegrationPartnerID": CONFIG.partner_id,
    "ApiKey": CONFIG.api_key,
    "AccountID": CONFIG.account_id,
}
V2 = {
    "Authorization": "Basic "
    + base64.b64encode(f"{CONFIG.partner_id}:{CONFIG.api_key}".encode()).decode(),
    "ResMan-Account-Id": CONFIG.account_id,
}


@pytest.fixture
def client() -> Iterator[TestClient]:
    """A sandbox seeded with 2 properties × 20 units × 11 months, on the tests' clock."""
    store = SandboxStore()
    seed_store(store, SeedSize(properties=2, units=20, months=11), CLOCK.today())
    with TestClient(create_sandbox_app(store, CONFIG), base_url="http://127.0.0.1") as test_client:
        yield test_client


def current_lease(client: TestClient, property_id: str) -> dict[str, Any]:
    """A lease of the property that is not a former one, as v2 lists it."""
    since = (CLOCK.now() - timedelta(days=300)).isoformat()
    leases = client.get(
        "/Leasing/Leases", headers=V2, params={"propertyId": property_id, "modifiedSince": since}
    ).json()
    return next(lease for lease in leases["leases"] if lease["leaseStatus"] != "Former")
