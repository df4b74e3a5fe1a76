"""Attacks on scopes and on keys that should be dead: count and read other tenants' webhooks and
integrations through a list's `total` and ordering; use a rotated, revoked or expired token;
read a webhook's header values or the SQLite file off the disk; sync without pause."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text, update

from propbridge.auth.models import ApiKey
from propbridge.db.base import utcnow
from tests.support import LiveStack, wait_for
from tests.test_cli import _env, _run


def _hook(client: Any, name: str) -> dict[str, Any]:
    created = client.post(
        "/v1/webhooks/",
        json={"url": f"http://127.0.0.1:9/{name}", "triggers": ["JOB_FAILURE"], "active": True},
    )
    assert created.status_code == 200, created.text
    result: dict[str, Any] = created.json()["result"]
    return result


def test_a_scoped_key_counts_and_orders_only_its_own_webhooks(stack: LiveStack) -> None:
    mine, theirs = stack.create_integration(), stack.create_integration()
    limited = stack.client(stack.new_token(integrations=[mine["id"]]))
    other = stack.client(stack.new_token(integrations=[theirs["id"]]))
    own = [_hook(limited, f"mine-{n}") for n in range(2)]
    secret = _hook(other, f"aaa-theirs-{uuid.uuid4().hex}")
    everyone = _hook(stack.http, "aaa-global")
    try:
        listed = limited.get("/v1/webhooks/", params={"order-by": "url:asc", "limit": 1}).json()
        assert listed["meta"]["total"] == 2
        assert listed["results"][0]["url"].endswith("mine-0")
        whole = limited.get("/v1/webhooks/", params={"order-by": "url:asc"}).text
        assert secret["url"] not in whole and everyone["url"] not in whole
        assert limited.get(f"/v1/webhooks/{secret['id']}").status_code == 404
        assert limited.delete(f"/v1/webhooks/{secret['id']}").status_code == 404
    finally:
        for hook in [*own, secret, everyone]:
            stack.http.delete(f"/v1/webhooks/{hook['id']}")


def test_a_scoped_key_counts_only_its_own_integrations(stack: LiveStack) -> None:
    mine = stack.create_integration(name="zzz-mine")
    stack.create_integration(name="aaa-theirs")
    limited = stack.client(stack.new_token(integrations=[mine["id"]]))
    listed = limited.get("/v1/admin/integrations/", params={"order-by": "name:asc", "limit": 1})
    body = listed.json()
    assert body["meta"]["total"] == 1 and body["results"][0]["id"] == mine["id"]
    assert "aaa-theirs" not in listed.text


def test_api_keys_through_the_cli(stack: LiveStack) -> None:
    env = _env(stack)
    created = _run(
        ["api-keys", "create", "--name", "cycle", "--scope", "read", "--expires-in-days", "30"],
        env,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    listed = _run(["api-keys", "list", "--json"], env)
    assert token not in listed.stdout
    [key] = [k for k in json.loads(listed.stdout) if k["token_prefix"] == token[:10]]
    assert key["expires_at"] and key["revoked_at"] is None
    reader = stack.client(token)
    assert reader.get("/v1/residents/").status_code == 200

    rotated = _run(["api-keys", "rotate", key["id"]], env)
    assert rotated.returncode == 0, rotated.stderr
    new_token = rotated.stdout.strip().splitlines()[-1]
    assert new_token != token
    wait_for(lambda: reader.get("/v1/residents/").status_code == 401, timeout=15)
    renewed = stack.client(new_token)
    assert renewed.get("/v1/residents/").status_code == 200

    keys = json.loads(_run(["api-keys", "list", "--json"], env).stdout)
    [new_key] = [k for k in keys if k["token_prefix"] == new_token[:10]]
    assert new_key["expires_at"] == key["expires_at"] and new_key["scopes"] == ["read"]
    revoked = _run(["api-keys", "revoke", new_key["id"]], env)
    assert revoked.returncode == 0, revoked.stderr
    wait_for(lambda: renewed.get("/v1/residents/").status_code == 401, timeout=15)
    unknown = _run(["api-keys", "revoke", "no-such-key"], env)
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr


def test_api_keys_through_the_api(stack: LiveStack) -> None:
    token = stack.new_token(scopes=["read"])
    used = stack.client(token)
    assert used.get("/v1/residents/").status_code == 200
    listed = stack.http.get("/v1/admin/api-keys/", params={"limit": 250})
    assert listed.status_code == 200 and token not in listed.text
    assert "token_hash" not in listed.text
    [key] = [k for k in listed.json()["results"] if k["token_prefix"] == token[:10]]
    assert key["last_used_at"] is not None
    limited = stack.client(stack.new_token(integrations=[stack.create_integration()["id"]]))
    assert limited.get("/v1/admin/api-keys/").status_code == 403
    assert limited.delete(f"/v1/admin/api-keys/{key['id']}").status_code == 403
    assert used.get("/v1/admin/api-keys/").status_code == 403
    assert stack.http.delete("/v1/admin/api-keys/no-such-key").status_code == 404
    assert stack.http.delete(f"/v1/admin/api-keys/{key['id']}").status_code == 200
    assert used.get("/v1/residents/").status_code == 401


def test_an_expired_key_stops_working(stack: LiveStack) -> None:
    token = stack.new_token(scopes=["read"])
    client = stack.client(token)
    assert client.get("/v1/residents/").status_code == 200

    async def expire() -> None:
        async with stack.runtime.database.write() as session:
            await session.execute(
                update(ApiKey)
                .where(ApiKey.token_prefix == token[:10])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

    stack.call(expire())
    wait_for(lambda: client.get("/v1/residents/").status_code == 401, timeout=15)


def test_webhook_header_values_are_not_stored_in_plain_text(stack: LiveStack) -> None:
    value = f"Bearer receiver-{uuid.uuid4().hex}"
    hook = stack.http.post(
        "/v1/webhooks/",
        json={
            "url": "http://127.0.0.1:9/",
            "triggers": ["JOB_FAILURE"],
            "headers": [{"header": "Authorization", "value": value}],
        },
    ).json()["result"]
    assert hook["headers"] == [{"header": "Authorization", "value": value}]

    async def stored() -> str:
        async with stack.runtime.database.read() as session:
            row = (
                await session.execute(
                    text("SELECT * FROM webhooks WHERE id = :id"), {"id": hook["id"]}
                )
            ).one()
            return repr(tuple(row))

    row = stack.call(stored())
    assert value not in row and value.encode().hex() not in row
    shown = stack.http.get(f"/v1/webhooks/{hook['id']}").json()["results"]
    assert shown["headers"] == hook["headers"]
    stack.http.delete(f"/v1/webhooks/{hook['id']}")


def _private(files: list[Path]) -> None:
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_the_sqlite_files_are_the_owners_alone(stack: LiveStack, tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    done = _run(["migrate"], {"PROPBRIDGE_DATA_DIR": str(data)})
    assert done.returncode == 0, done.stderr
    _private([data, data / "propbridge.db", data / "encryption.key"])
    if stack.settings.effective_database_url.startswith("sqlite"):
        # A running stack: its WAL and shared-memory files exist now.
        database = Path(stack.settings.effective_database_url.split("///", 1)[1])
        live = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        assert {p.name for p in live} >= {database.name, f"{database.name}-wal"}
        _private(live)


def test_an_integration_cannot_sync_without_pause(stack: LiveStack) -> None:
    fast = {"sync_frequency": 1, "sync_cadence": "SECOND"}
    created = stack.http.post(
        "/v1/admin/integrations/",
        json={
            "integration_vendor": "RESMAN",
            "name": "busy",
            "base_url": stack.sandbox_url,
            "credentials": stack.credentials(),
            **fast,
        },
    )
    assert created.status_code == 400
    assert created.json()["error"]["details"]["issues"][0]["path"] == ["sync_frequency"]
    integration = stack.create_integration()
    changed = stack.http.put(f"/v1/admin/integrations/{integration['id']}/", json=fast)
    assert changed.status_code == 400
    fine = stack.http.put(
        f"/v1/admin/integrations/{integration['id']}/",
        json={"sync_frequency": 15, "sync_cadence": "MINUTE"},
    )
    assert fine.status_code == 200
