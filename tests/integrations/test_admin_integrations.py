"""`/v1/admin/integrations/`: create, list, get, update, delete, manual sync; secrets stay secret."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import LiveStack, assert_matches_openapi


def test_create_returns_propexo_shape_without_credentials(stack: LiveStack) -> None:
    created = stack.http.post(
        "/v1/admin/integrations/",
        json={
            "integration_vendor": "RESMAN",
            "name": "Acme",
            "credentials": stack.credentials(),
            "base_url": stack.sandbox_url,
        },
    )
    assert created.status_code == 200
    assert_matches_openapi("/v1/admin/integrations/", "post", created.json())
    result = created.json()["result"]
    assert result["vendor"] == "RESMAN" and result["active"] is False
    assert result["sync_frequency"] == 12 and result["sync_cadence"] == "HOUR"
    text = created.text + stack.http.get(f"/v1/admin/integrations/{result['id']}/").text
    assert stack.sandbox_config.api_key not in text and "credentials" not in text


def test_list_and_get_match_schema(stack: LiveStack) -> None:
    integration = stack.create_integration()
    listing = stack.http.get("/v1/admin/integrations/")
    assert_matches_openapi("/v1/admin/integrations/", "get", listing.json())
    assert integration["id"] in [i["id"] for i in listing.json()["results"]]
    one = stack.http.get(f"/v1/admin/integrations/{integration['id']}/")
    assert_matches_openapi("/v1/admin/integrations/{integration_id}/", "get", one.json())


def test_update_changes_settings_and_credentials(stack: LiveStack) -> None:
    integration = stack.create_integration()
    updated = stack.http.put(
        f"/v1/admin/integrations/{integration['id']}/",
        json={
            "name": "Renamed",
            "sync_frequency": 6,
            "sync_cadence": "DAY",
            "active": True,
            "credentials": {**stack.credentials(), "apiKey": "wrong-key"},
        },
    )
    assert updated.status_code == 200
    assert_matches_openapi("/v1/admin/integrations/{integration_id}/", "put", updated.json())
    assert updated.json()["result"]["name"] == "Renamed"
    assert updated.json()["result"]["sync_cadence"] == "DAY"
    outcome = stack.sync(integration["id"])
    assert outcome["state"] == "failed" and "401" in (outcome["error"] or "")


def test_delete_archives(stack: LiveStack) -> None:
    integration = stack.create_integration()
    path = f"/v1/admin/integrations/{integration['id']}/"
    assert stack.http.delete(path).json() == {"success": True}
    assert stack.http.get(path).status_code == 404
    assert stack.http.delete(path).status_code == 404
    assert (
        stack.http.post(f"/v1/admin/integrations/{integration['id']}/manual-sync").status_code
        == 404
    )


@pytest.mark.parametrize(
    "body,path",
    [
        ({"integration_vendor": "YARDI", "name": "x"}, "integration_vendor"),
        ({"name": "x"}, "integration_vendor"),
        ({"integration_vendor": "RESMAN"}, "name"),
        ({"integration_vendor": "RESMAN", "name": ""}, "name"),
        (
            {"integration_vendor": "RESMAN", "name": "x", "credentials": {"apiKey": "k"}},
            "credentials",
        ),
        ({"integration_vendor": "RESMAN", "name": "x", "extra": 1}, "extra"),
        ({"integration_vendor": "RESMAN", "name": "x", "sync_frequency": 0}, "sync_frequency"),
        ({"integration_vendor": "RESMAN", "name": "x", "sync_cadence": "YEAR"}, "sync_cadence"),
        ({"integration_vendor": "RESMAN", "name": "x", "base_url": "ftp://x"}, "base_url"),
    ],
)
def test_bad_create_bodies_are_400(stack: LiveStack, body: dict[str, Any], path: str) -> None:
    full = {"credentials": stack.credentials(), **body}
    response = stack.http.post("/v1/admin/integrations/", json=full)
    assert response.status_code == 400, response.text
    assert any(i["path"][0] == path for i in response.json()["error"]["details"]["issues"])


def test_manual_sync_rejects_unknown_models(stack: LiveStack, synced: dict[str, Any]) -> None:
    path = f"/v1/admin/integrations/{synced['integration']['id']}/manual-sync"
    assert stack.http.post(path, json={"models_to_sync": ["unicorns"]}).status_code == 400
    assert stack.http.post(path, json={"foo": 1}).status_code == 400
    ok = stack.http.post(path, json={"models_to_sync": ["charge_codes"]})
    assert_matches_openapi("/v1/admin/integrations/{integration_id}/manual-sync", "post", ok.json())


def test_resync_changes_nothing(stack: LiveStack, synced: dict[str, Any]) -> None:
    outcome = stack.sync(synced["integration"]["id"])
    counts = outcome["result"]["counts"]
    assert all(c["new"] == 0 and c["updated"] == 0 for c in counts.values()), counts
    again = stack.http.get(
        "/v1/residents/", params={"integration_id": synced["integration"]["id"], "limit": 250}
    ).json()["results"]
    before = {r["id"]: r["updated_at"] for r in synced["residents"]}
    assert {r["id"]: r["updated_at"] for r in again} == before


def test_database_holds_no_credential_in_clear(stack: LiveStack) -> None:
    stack.create_integration()
    if not stack.settings.effective_database_url.startswith("sqlite"):
        pytest.skip("the file check applies to the embedded engine")
    # A webhook secret, also in a stored idempotent response (the create answer shows it).
    webhook_secret = "w3bh00k-s3cret-in-clear?"
    created = stack.http.post(
        "/v1/webhooks/",
        json={"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"], "secret": webhook_secret},
        headers={"Idempotency-Key": "grep-me"},
    )
    assert created.json()["result"]["secret"] == webhook_secret
    path = Path(stack.settings.effective_database_url.split("///", 1)[1])
    files = [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    assert files
    # Read in another process: closing any descriptor of a SQLite file in this process would
    # drop the live stack's POSIX locks on it (a classic SQLite pitfall).
    for secret in (stack.sandbox_config.api_key, webhook_secret):
        found = subprocess.run(
            ["grep", "-c", "-F", secret, *map(str, files)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert found.returncode == 1, (secret, found.stdout)


def test_sync_runs_are_recorded_and_incremental(stack: LiveStack) -> None:
    integration = stack.create_integration()
    first = stack.sync(integration["id"])
    second = stack.sync(integration["id"])
    assert first["state"] == second["state"] == "succeeded"
    runs = stack.http.get(f"/v1/admin/integrations/{integration['id']}/sync-runs").json()
    assert runs["meta"]["total"] == 2
    latest, earliest = runs["results"]
    assert latest["state"] == earliest["state"] == "succeeded" and latest["finished_at"]
    assert earliest["counts"]["resident_charges"]["new"] > 0
    # The second run reads only what changed lately, writes nothing and changes nothing.
    assert latest["counts"].get("resident_charges", {}).get("new", 0) == 0
    assert all(c["updated"] == 0 for c in latest["counts"].values())
    seen_total = sum(sum(c.values()) for c in latest["counts"].values())
    assert seen_total < sum(sum(c.values()) for c in earliest["counts"].values())
    details = stack.http.get(f"/v1/admin/integrations/{integration['id']}/").json()["results"]
    assert details["last_completed_sync"] and details["is_running_sync"] is False
    with stack.client(stack.new_token(["read"])) as reader:
        assert (
            reader.get(f"/v1/admin/integrations/{integration['id']}/sync-runs").status_code == 403
        )
