"""`propbridge demo` as a new user runs it: start, read the printout, paste the lines it gives;
then run it again in the same folder, as `make demo` a second time does."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support import free_port, wait_for


class Demo:
    """One demo process and what it printed up to its "Ctrl-C" line."""

    def __init__(self, process: subprocess.Popen[str], output: list[str], port: int) -> None:
        self.process, self.output, self.port = process, output, port
        self.text = "".join(output)

    @property
    def exports(self) -> dict[str, str]:
        """The variables of its `export NAME=value` lines, as a shell would set them."""
        found: dict[str, str] = {}
        for line in self.output:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                [found[name]] = shlex.split(value)
        return found

    def pasted(self, line: str) -> list[str]:
        """A printed command line as the shell runs it after the exports were pasted."""
        exports = self.exports
        expanded = re.sub(r"\$([A-Z_]+)", lambda m: exports[m.group(1)], line)
        return shlex.split(expanded)

    def line_starting(self, prefix: str) -> str:
        line = next((line for line in self.output if line.startswith(prefix)), None)
        assert line is not None, self.text
        return line


@contextmanager
def demo(data_dir: Path) -> Iterator[Demo]:
    """Run `propbridge demo` in `data_dir` until it has printed its instructions; Ctrl-C after."""
    port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "PROPBRIDGE_DATA_DIR": str(data_dir),
        "PROPBRIDGE_DATABASE_URL": "",
        "PROPBRIDGE_ENCRYPTION_KEY": "",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "propbridge",
            "demo",
            "--port",
            str(port),
            "--sandbox-port",
            str(sandbox_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "Ctrl-C" in line or not line:
                break
        yield Demo(process, output, port)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert process.returncode == 0, "".join(output)[-2000:]


def settled_status(run: Demo, command: list[str]) -> dict[str, Any]:
    """The write status the printed `curl` reports, once the write has left PENDING."""
    url = next(arg for arg in command if arg.startswith("http://"))
    header = command[command.index("-H") + 1]
    name, _, value = header.partition(": ")

    def status() -> dict[str, Any] | None:
        answer: dict[str, Any] = httpx.get(url, headers={name: value}).json()
        return None if answer["write_status"] == "PENDING" else answer

    settled = wait_for(status)
    assert settled is not None
    return settled


def post_printed_charge(run: Demo) -> dict[str, Any]:
    """Paste the "post another charge" curl: a new write, which ResMan takes."""
    args = shlex.split(run.line_starting("curl -s -X POST"))
    body: dict[str, Any] = json.loads(args[args.index("-d") + 1])
    url = next(a for a in args if a.startswith("http://"))
    headers = {"Authorization": f"Bearer {run.exports['PROPBRIDGE_TOKEN']}"}
    response = httpx.post(url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    job_id = response.json()["meta"]["job_id"]
    status_url = f"http://127.0.0.1:{run.port}/v1/admin/write-status/{job_id}"
    command = ["curl", "-H", f"Authorization: Bearer {run.exports['PROPBRIDGE_TOKEN']}", status_url]
    answer = settled_status(run, command)
    assert answer["write_status"] == "SUCCESS", answer
    return body


def check_run(run: Demo, sandbox_page: str) -> tuple[str, list[str]]:
    """The demo's own charge went through and its printed lines work; its reference, and the
    references on the sandbox's Partner Transactions page."""
    exports = run.exports
    assert set(exports) == {
        "PROPBRIDGE_TOKEN",
        "INTEGRATION_ID",
        "JOB_ID",
        "PROPBRIDGE_OUTBOUND_ALLOWLIST",
    }, run.text
    assert exports["PROPBRIDGE_OUTBOUND_ALLOWLIST"].split(",").count("127.0.0.1") == 1
    posted = re.search(r"posted charge (DEMO-\S+) \(job (\S+)\)", run.text)
    assert posted and posted.group(2) == exports["JOB_ID"], run.text
    status = settled_status(run, run.pasted(run.line_starting("curl -s -H")))
    assert status["write_status"] == "SUCCESS", status
    headers = {"Authorization": f"Bearer {exports['PROPBRIDGE_TOKEN']}"}
    integration = httpx.get(
        f"http://127.0.0.1:{run.port}/v1/admin/integrations/{exports['INTEGRATION_ID']}/",
        headers=headers,
    ).json()["results"]
    assert integration["can_authenticate"] is True and integration["last_completed_sync"]
    pending = httpx.get(sandbox_page).json()["results"]
    check_console(run)
    return posted.group(1), [p["reference"] for p in pending]


def check_console(run: Demo) -> None:
    """The console's printed URL and key sign in (the form's token from its page)."""
    printed = re.search(r"Operator console:\s+(\S+)\s+\(sign in with the key: (\S+)\)", run.text)
    assert printed and printed.group(2) == run.exports["PROPBRIDGE_TOKEN"], run.text
    with httpx.Client() as browser:
        form = browser.get(f"{printed.group(1)}/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text
        signed = browser.post(
            f"{printed.group(1)}/sign-in",
            data={"csrf": csrf.group(1), "api_key": printed.group(2)},
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/console/integrations"
        page = browser.get(f"{printed.group(1)}/integrations")
        assert "ResMan sandbox (demo)" in page.text


def sandbox_transactions(run: Demo) -> str:
    url = re.search(r"ResMan sandbox:\s+(\S+)", run.text)
    assert url, run.text
    return f"{url.group(1)}/_sandbox/partner-transactions"


def test_demo_prints_working_lines_and_runs_again_where_it_stopped(tmp_path: Path) -> None:
    with demo(tmp_path) as first:
        assert "first sync done" in first.text, first.text
        assert "sandbox state: new" in first.text, first.text
        first_reference, first_held = check_run(first, sandbox_transactions(first))
        assert first_reference in first_held
        pasted = post_printed_charge(first)
        assert pasted["reference_number"] != first_reference
        # With the exports pasted, the CLI in the demo's folder reaches the demo's sandbox.
        shell = {k: v for k, v in os.environ.items() if k != "PROPBRIDGE_OUTBOUND_ALLOWLIST"}
        shell.update(first.exports)
        shell.update(
            PROPBRIDGE_DATA_DIR=str(tmp_path),
            PROPBRIDGE_DATABASE_URL="",
            PROPBRIDGE_ENCRYPTION_KEY="",
        )
        synced = subprocess.run(
            [sys.executable, "-m", "propbridge", "sync", first.exports["INTEGRATION_ID"], "--json"],
            env=shell,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert json.loads(synced.stdout)["state"] == "succeeded"
    assert (tmp_path / "propbridge.db").exists() and (tmp_path / "sandbox-resman.db").exists()

    with demo(tmp_path) as second:
        assert "sandbox state: kept" in second.text, second.text
        assert "sync done" in second.text and "sync failed" not in second.text, second.text
        assert "archived" not in second.text, second.text
        second_reference, second_held = check_run(second, sandbox_transactions(second))
        # A new charge, not the first run's replayed; and the first run's charges are still
        # in the sandbox, which kept its state beside the database.
        assert second_reference != first_reference
        assert second.exports["JOB_ID"] != first.exports["JOB_ID"]
        assert second.exports["PROPBRIDGE_TOKEN"] != first.exports["PROPBRIDGE_TOKEN"]
        assert second.exports["INTEGRATION_ID"] == first.exports["INTEGRATION_ID"]
        assert {first_reference, pasted["reference_number"], second_reference} <= set(second_held)
        post_printed_charge(second)


def test_a_demo_database_without_its_sandbox_state_starts_a_new_integration(
    tmp_path: Path,
) -> None:
    with demo(tmp_path) as first:
        assert first.exports["JOB_ID"], first.text
    (tmp_path / "sandbox-resman.db").unlink()
    for companion in ("sandbox-resman.db-wal", "sandbox-resman.db-shm"):
        (tmp_path / companion).unlink(missing_ok=True)
    with demo(tmp_path) as second:
        assert "sandbox state: new" in second.text, second.text
        old = first.exports["INTEGRATION_ID"]
        assert f"archived the demo integration {old}" in second.text, second.text
        assert second.exports["INTEGRATION_ID"] != old
        assert "first sync done" in second.text, second.text
        check_run(second, sandbox_transactions(second))
