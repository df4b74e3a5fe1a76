"""The `propbridge` command as an operator uses it."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support import LiveStack, free_port, wait_for

PROPBRIDGE = [sys.executable, "-m", "propbridge"]
DEFAULT_KEY = b"0123456789abcdef0123456789abcdef"  # the sandbox's default API key


def _run(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PROPBRIDGE, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _env(stack: LiveStack) -> dict[str, str]:
    return {
        "PROPBRIDGE_DATABASE_URL": stack.settings.effective_database_url,
        "PROPBRIDGE_ENCRYPTION_KEY": stack.settings.encryption_key or "",
        "PROPBRIDGE_DATA_DIR": str(stack.settings.data_dir),
    }


def test_api_key_token_is_alone_on_the_last_line(stack: LiveStack) -> None:
    done = _run(["api-keys", "create", "--name", "ops", "--scope", "read"], _env(stack))
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("pb_") and " " not in token
    with stack.client(token) as client:
        assert client.get("/v1/properties/").status_code == 200
        assert client.get("/v1/admin/integrations/").status_code == 403


def test_api_key_scoped_to_an_integration(stack: LiveStack, synced: dict[str, Any]) -> None:
    other = stack.create_integration()
    done = _run(["api-keys", "create", "--name", "one", "--integration", other["id"]], _env(stack))
    token = done.stdout.strip().splitlines()[-1]
    with stack.client(token) as client:
        assert client.get(f"/v1/residents/{synced['residents'][0]['id']}").status_code == 404


def test_bad_scope_is_refused(stack: LiveStack) -> None:
    done = _run(["api-keys", "create", "--name", "x", "--scope", "root"], _env(stack))
    assert done.returncode == 2 and "unknown scope" in done.stderr


def test_sync_command_reports_progress_and_counts(stack: LiveStack) -> None:
    integration = stack.create_integration()
    done = _run(["sync", integration["id"]], _env(stack))
    assert done.returncode == 0, done.stderr
    assert "residents:" in done.stderr and "new" in done.stderr
    listing = stack.http.get("/v1/residents/", params={"integration_id": integration["id"]})
    assert listing.json()["meta"]["total"] > 0


def test_sync_of_unknown_integration_fails_cleanly(stack: LiveStack) -> None:
    done = _run(["sync", "no-such-id"], _env(stack))
    assert done.returncode == 2 and "no integration" in done.stderr
    assert "Traceback" not in done.stderr


def test_migrate_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    done = _run(["migrate"], {"PROPBRIDGE_DATA_DIR": str(tmp_path), "PROPBRIDGE_DATABASE_URL": ""})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "propbridge.db").exists() and (tmp_path / "encryption.key").exists()


def test_sandbox_command_serves_resman(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *PROPBRIDGE,
            "sandbox",
            "resman",
            "--port",
            str(port),
            "--properties",
            "1",
            "--units",
            "3",
            "--months",
            "2",
            "--api-key",
            "k" * 32,
            "--state",
            str(tmp_path / "s.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def properties() -> Any:
            try:
                return httpx.post(
                    f"http://127.0.0.1:{port}/Account/GetProperties",
                    data={"IntegrationPartnerID": "1000", "ApiKey": "k" * 32, "AccountID": "400"},
                    headers={"Accept": "application/json"},
                ).json()
            except httpx.TransportError:
                return None

        assert len(wait_for(properties, timeout=30)["Properties"]) == 1
    finally:
        process.terminate()
        process.wait(10)


def test_the_sandboxs_day_is_its_seeds_day(tmp_path: Path) -> None:
    """`--as-of` moves the sandbox's clock with its seed: nothing it serves is in its future."""
    port = free_port()
    args = ["sandbox", "resman", "--port", str(port), "--properties", "1", "--units", "4"]
    process = subprocess.Popen(
        [*PROPBRIDGE, *args, "--as-of", "2028-02-29"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    v2 = {
        "Authorization": "Basic " + base64.b64encode(b"1000:" + DEFAULT_KEY).decode(),
        "ResMan-Account-Id": "400",
    }
    try:

        def properties() -> Any:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/Properties", headers=v2).json()
            except httpx.TransportError:
                return None

        [prop] = wait_for(properties, timeout=30)["properties"]
        assert prop["currentPeriod"]["start"].startswith("2028-02-01")
        accounts = httpx.get(
            f"http://127.0.0.1:{port}/BillingAccounts",
            headers=v2,
            params={
                "propertyId": prop["propertyId"],
                "modifiedSince": "2027-03-10T00:00:00Z",
                "includeTransactions": "true",
            },
        )
        assert accounts.status_code == 200, accounts.text
        days = [
            t["date"][:10]
            for account in accounts.json()["billingAccounts"]
            for t in account["transactions"]
        ]
        assert days and max(days) <= "2028-02-29"
    finally:
        process.terminate()
        process.wait(10)
    refused = _run(["sandbox", "resman", "--account-id", "acme"], {})
    assert refused.returncode != 0 and "Traceback" not in refused.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_serve_with_several_processes_shares_one_port_and_stops_them_all(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {"PROPBRIDGE_DATA_DIR": str(tmp_path), "PROPBRIDGE_DATABASE_URL": ""}
    process = subprocess.Popen(
        [*PROPBRIDGE, "serve", "--no-worker", "--processes", "2", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout=60)
        children = wait_for(lambda: _children(process.pid), timeout=30)
        assert len(children) == 1
        # Both processes answer on the one port: fresh connections are spread between them.
        assert all(healthy() for _ in range(20))
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "2 API processes" in stderr
    assert not any(Path(f"/proc/{child}").exists() for child in children)


def test_serve_refuses_a_bad_process_count(tmp_path: Path) -> None:
    done = _run(["serve", "--processes", "0"], {"PROPBRIDGE_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2 and "processes" in done.stderr
