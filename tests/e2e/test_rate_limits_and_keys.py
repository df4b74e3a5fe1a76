"""Our rate limit per API key, shared by every API process, and re-encryption under a new key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from propbridge.integrations.credentials import (
    ConfigurationError,
    CredentialCipher,
    StaticKeyProvider,
    decode_key,
    generate_key_text,
)
from propbridge.integrations.models import Integration
from propbridge.sandbox.resman.seed import SeedSize
from tests.support import LiveStack, free_port, wait_for

PROPBRIDGE = [sys.executable, "-m", "propbridge"]


def test_a_key_past_its_limit_gets_429(stack: LiveStack) -> None:
    limited = stack.client(stack.new_token(rate_limit=3))
    # Windows are whole minutes of the stack's clock: start well inside one.
    wait_for(lambda: stack.clock.now().second < 45, timeout=20)
    answers = [limited.get("/v1/properties/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-limit"] for a in answers] == ["3"] * 4
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    # Writes and admin routes count too; another key is not affected.
    assert limited.post("/v1/resident-charges/", json={}).status_code == 429
    assert "x-ratelimit-limit" not in stack.http.get("/v1/properties/").headers


def _serve(env: dict[str, str], port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PROPBRIDGE, "serve", "--no-worker", "--port", str(port), *extra],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_limits_are_shared_by_api_processes_and_set_per_key(tmp_path: Path) -> None:
    env = {"PROPBRIDGE_DATA_DIR": str(tmp_path), "PROPBRIDGE_DATABASE_URL": ""}
    created = subprocess.run(
        [*PROPBRIDGE, "api-keys", "create", "--name", "limited", "--rate-limit", "6"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    assert "6/min" in created.stdout
    port = free_port()
    server = _serve(env, port, "--processes", "2")
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=60)
        codes = []
        for _ in range(12):  # a new connection each: the two processes share them
            response = httpx.get(
                f"http://127.0.0.1:{port}/v1/properties/",
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            )
            codes.append(response.status_code)
        assert codes.count(200) == 6 and codes.count(429) == 6, codes
    finally:
        server.terminate()
        server.wait(30)


def test_deployment_wide_limit(own_database: str, tmp_path: Path) -> None:
    live = LiveStack(own_database, tmp_path / "d", SeedSize(1, 2, 1), rate_limit_per_minute=2)
    try:
        codes = [live.http.get("/v1/leases/").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        own = live.client(live.new_token(rate_limit=10))
        assert own.get("/v1/leases/").headers["x-ratelimit-limit"] == "10"
    finally:
        live.close()


def _secrets(live: LiveStack) -> list[tuple[str, bytes]]:
    async def read() -> list[tuple[str, bytes]]:
        async with live.runtime.database.read() as session:
            rows = await session.execute(select(Integration.id, Integration.credentials_ciphertext))
            return [(row[0], row[1]) for row in rows]

    return live.call(read())


def test_rotate_key_reencrypts_every_secret(own_database: str, tmp_path: Path) -> None:
    old_key = generate_key_text()
    first = LiveStack(own_database, tmp_path / "d", SeedSize(1, 2, 1), old_key)
    try:
        integration = first.create_integration()
        hook = first.http.post(
            "/v1/webhooks/", json={"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"]}
        ).json()["result"]
        replayed = first.http.post(
            "/v1/webhooks/",
            json={"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"]},
            headers={"Idempotency-Key": "rotate-me"},
        ).json()
    finally:
        first.close()
    env = {
        "PROPBRIDGE_DATABASE_URL": own_database,
        "PROPBRIDGE_ENCRYPTION_KEY": old_key,
        "PROPBRIDGE_DATA_DIR": str(tmp_path / "d"),
    }
    done = subprocess.run(
        [*PROPBRIDGE, "rotate-key"], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    new_key = done.stdout.strip().splitlines()[-1]
    assert "1 integrations, 2 webhooks, 1 idempotent responses" in done.stderr
    second = LiveStack(
        own_database, tmp_path / "d", SeedSize(1, 2, 1), new_key, now=first.clock.now()
    )
    try:
        again = second.http.get(f"/v1/webhooks/{hook['id']}").json()["results"]
        assert again["secret"] == hook["secret"]
        # The same API key as before (it is in the database): its idempotency key replays.
        replay = second.client(first.admin_token).post(
            "/v1/webhooks/",
            json={"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"]},
            headers={"Idempotency-Key": "rotate-me"},
        )
        assert replay.json() == replayed
        old = CredentialCipher(StaticKeyProvider(decode_key(old_key)))
        new = CredentialCipher(StaticKeyProvider(decode_key(new_key)))
        [(integration_id, ciphertext)] = _secrets(second)
        assert integration_id == integration["id"]
        assert new.decrypt(integration_id, ciphertext)["apiKey"]
        with pytest.raises(ConfigurationError):
            old.decrypt(integration_id, ciphertext)
    finally:
        second.close()
    wrong = subprocess.run(
        [*PROPBRIDGE, "rotate-key"],
        env={**os.environ, **env},  # the old key no longer opens anything: nothing changes
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 1 and "nothing was changed" in wrong.stderr
