"""`propbridge demo` as a new user runs it: start, read the printout, paste the curl."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import free_port, wait_for


def test_demo_prints_a_working_curl(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "PROPBRIDGE_DATA_DIR": str(tmp_path),
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
        text = "".join(output)
        assert "first sync done" in text, text
        token = re.search(r"API token:\s+(\S+)", text)
        curl = next((line for line in output if line.startswith("curl -s -X POST")), None)
        assert token and curl, text
        args = shlex.split(curl)
        body = json.loads(args[args.index("-d") + 1])
        url = next(a for a in args if a.startswith("http://"))
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 200, response.text
        job_id = response.json()["meta"]["job_id"]
        status = wait_for(
            lambda: (
                (
                    s := httpx.get(
                        f"http://127.0.0.1:{port}/v1/admin/write-status/{job_id}", headers=headers
                    ).json()
                )["write_status"]
                != "PENDING"
                and s
            )
        )
        assert status["write_status"] == "SUCCESS"
        page = httpx.get(f"http://127.0.0.1:{sandbox_port}/partner-transactions").text
        assert body["reference_number"] in page
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert process.returncode == 0, "".join(output)[-2000:]
    assert (tmp_path / "propbridge.db").exists()
