"""The `propbridge` command as an operator uses it."""

from __future__ import annotations

import base64
import fcntl
import io
import json
import logging
import os
import pty
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import typer.main
from rich.console import Console
from rich.progress import Progress
from typer.testing import CliRunner

from propbridge import __version__
from propbridge.cli import app
from propbridge.integrations.credentials import generate_key_text
from propbridge.logging_setup import configure_logging, logs_through
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


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The refusal: exit code 2 and one line on stderr, naming the fix."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and " — fix: " in line, line
    return line


def test_version() -> None:
    done = _run(["--version"], {})
    assert done.returncode == 0 and done.stdout == f"propbridge {__version__}\n"


def _command_paths(command: Any, path: list[str]) -> list[list[str]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _command_paths(sub, [*path, name])
    return found


def test_help_shows_no_type_tags() -> None:
    """`<str>`, `<int range>`, `TEXT`…: the help of every command names what to give instead."""
    runner = CliRunner()
    paths = _command_paths(typer.main.get_command(app), [])
    assert ["doctor"] in paths and ["sandbox", "resman"] in paths
    for path in paths:
        done = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
        assert done.exit_code == 0, (path, done.output)
        tags = re.findall(r"<[A-Za-z%][^<>=\n]*>|\b(?:TEXT|INTEGER|FLOAT|PATH)\b", done.output)
        assert tags == [], (path, tags)


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
    assert "unknown scope" in _one_line_error(done)


def test_records_print_as_json(stack: LiveStack) -> None:
    env = _env(stack)
    created = _run(["api-keys", "create", "--name", "js", "--scope", "read", "--json"], env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["name"] == "js" and key["scopes"] == ["read"] and key["token"].startswith("pb_")
    rotated = json.loads(_run(["api-keys", "rotate", key["id"], "--json"], env).stdout)
    assert rotated["replaces"] == key["id"] and rotated["token"] != key["token"]
    revoked = json.loads(_run(["api-keys", "revoke", rotated["id"], "--json"], env).stdout)
    assert revoked["id"] == rotated["id"] and revoked["revoked_at"]
    assert "token" not in revoked

    integration = stack.create_integration()
    synced = _run(["sync", integration["id"], "--models", "properties", "--json"], env)
    assert synced.returncode == 0, synced.stderr
    outcome = json.loads(synced.stdout)
    assert outcome["state"] == "succeeded" and outcome["error"] is None
    assert outcome["integration_id"] == integration["id"] and outcome["job_id"]
    assert outcome["counts"]["properties"]["new"] >= 1


def test_rotate_key_prints_its_summary_as_json(own_database: str, tmp_path: Path) -> None:
    key = generate_key_text()
    env = {
        "PROPBRIDGE_DATABASE_URL": own_database,
        "PROPBRIDGE_ENCRYPTION_KEY": key,
        "PROPBRIDGE_DATA_DIR": str(tmp_path),
    }
    done = _run(["rotate-key", "--json"], env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["reencrypted"] == {"integrations": 0, "webhooks": 0, "idempotent responses": 0}
    assert summary["key_file"] is None and summary["new_key"] not in (None, key)


@pytest.mark.parametrize(
    "case",
    [
        "unparseable url",
        "unknown driver",
        "unreachable database",
        "missing sqlite directory",
        "missing key",
        "malformed key",
        "invalid setting",
        "port out of range",
        "unknown log level",
        "no workers",
    ],
)
def test_configuration_errors_are_one_line_with_the_fix(case: str, tmp_path: Path) -> None:
    env = {
        "PROPBRIDGE_DATA_DIR": str(tmp_path),
        "PROPBRIDGE_DATABASE_URL": "",
        "PROPBRIDGE_ENCRYPTION_KEY": generate_key_text(),
    }
    missing = tmp_path / "missing" / "dir"
    env.update(
        {
            "unparseable url": {"PROPBRIDGE_DATABASE_URL": "not a url"},
            "unknown driver": {"PROPBRIDGE_DATABASE_URL": "postgresql+nosuch://db/x"},
            "unreachable database": {
                "PROPBRIDGE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"
            },
            "missing sqlite directory": {"PROPBRIDGE_DATABASE_URL": f"sqlite:///{missing}/p.db"},
            "missing key": {
                "PROPBRIDGE_ENVIRONMENT": "production",
                "PROPBRIDGE_ENCRYPTION_KEY": "",
            },
            "malformed key": {"PROPBRIDGE_ENCRYPTION_KEY": "not-a-key"},
            "invalid setting": {"PROPBRIDGE_PORT": "eighty"},
            "port out of range": {"PROPBRIDGE_PORT": "70000"},
            "unknown log level": {"PROPBRIDGE_LOG_LEVEL": "LOUD"},
            "no workers": {"PROPBRIDGE_WORKER_CONCURRENCY": "0"},
        }[case]
    )
    line = _one_line_error(_run(["api-keys", "list"], env))
    expected = {
        "unparseable url": "PROPBRIDGE_DATABASE_URL is not a database URL",
        "unknown driver": "names 'postgresql+nosuch'",
        "unreachable database": "refused the connection",
        "missing sqlite directory": f"the directory {missing} of PROPBRIDGE_DATABASE_URL",
        "missing key": "PROPBRIDGE_ENCRYPTION_KEY is not set",
        "malformed key": "PROPBRIDGE_ENCRYPTION_KEY is not a base64-encoded 32-byte key",
        "invalid setting": "PROPBRIDGE_PORT",
        "port out of range": "PROPBRIDGE_PORT",
        "unknown log level": "PROPBRIDGE_LOG_LEVEL",
        "no workers": "PROPBRIDGE_WORKER_CONCURRENCY",
    }[case]
    assert expected in line
    assert not missing.exists() and not (tmp_path / "propbridge.db").exists()


@pytest.mark.parametrize(
    "command", [["serve", "--port", "70000"], ["serve", "--port", "0"], ["demo", "--port", "-1"]]
)
def test_a_port_out_of_range_is_refused_before_anything_starts(
    command: list[str], tmp_path: Path
) -> None:
    done = _run(command, {"PROPBRIDGE_DATA_DIR": str(tmp_path), "PROPBRIDGE_DATABASE_URL": ""})
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert "not in the range 1<=x<=65535" in done.stderr


def test_a_port_in_use_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = {"PROPBRIDGE_DATA_DIR": str(tmp_path), "PROPBRIDGE_DATABASE_URL": ""}
        for args, option in (
            (["serve", "--port", port], "--port"),
            (["sandbox", "resman", "--port", port], "--port"),
            (["demo", "--sandbox-port", port, "--port", str(free_port())], "--sandbox-port"),
        ):
            line = _one_line_error(_run(args, env))
            assert f"127.0.0.1:{port} is already in use" in line and option in line


def test_log_lines_print_above_a_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    """While a bar is drawn, structlog's and the standard library's lines go through its
    console, whole, and nothing is written around it."""
    screen = io.StringIO()
    configure_logging("INFO")
    try:
        with (
            Progress(console=Console(file=screen, force_terminal=True, width=80)) as progress,
            logs_through(progress.console),
        ):
            task = progress.add_task("syncing residents", total=10)
            progress.update(task, completed=5)
            progress.refresh()
            structlog.get_logger("t").info("half_way", done=5)
            logging.getLogger("t").warning("a library says something")
            progress.refresh()
    finally:
        structlog.reset_defaults()
    assert capsys.readouterr().err == ""
    plain = re.split(r"[\r\n]+", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue()))
    assert json.loads(next(line for line in plain if "half_way" in line))["done"] == 5
    assert "a library says something" in plain
    assert any(line.startswith("syncing residents") for line in plain)


def _in_a_terminal(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    """Run the command on a pseudo-terminal (so rich draws its bars) and return its screen
    output without the control sequences, one string per line."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [*PROPBRIDGE, *args],
        env={**os.environ, **env, "TERM": "xterm-256color", "COLUMNS": "120"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(30) == 0, output.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace"))


def test_sync_log_lines_never_cut_through_its_progress_bar(stack: LiveStack) -> None:
    integration = stack.create_integration()
    screen = _in_a_terminal(
        ["sync", integration["id"]], {**_env(stack), "PROPBRIDGE_LOG_LEVEL": "INFO"}
    )
    lines = re.split(r"[\r\n]+", screen)
    assert any("syncing leases" in line for line in lines), screen
    # The sync and the worker log while the bar is up: each line whole, on a line of its own
    # (the bar is cleared before it is printed and drawn again after).
    logged = [line for line in lines if '"event": ' in line]
    assert any('"job_ran"' in line for line in logged), screen
    assert all(json.loads(line)["level"] == "info" for line in logged), logged


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
        _, stderr = process.communicate(timeout=10)
    # The seeding's progress, then what was made.
    assert "seeding the sandbox" in stderr and "1/1 properties" in stderr
    assert '"properties": 1' in stderr


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
