"""No secret in a log line: secret-looking keys and bearer tokens are redacted."""

from __future__ import annotations

import json

import pytest
import structlog

from propbridge.logging_setup import configure_logging


def test_secrets_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    try:
        structlog.get_logger("t").info(
            "call",
            apiKey="0123456789abcdef",
            authorization="Bearer pb_abcdefghijklmnop",
            credentials={"apiKey": "k"},
            note="sent Bearer pb_secretsecretsecret to x",
            job_id="j1",
        )
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        structlog.reset_defaults()
    event = json.loads(line)
    assert event["apiKey"] == event["authorization"] == event["credentials"] == "[redacted]"
    assert "secretsecret" not in line and "0123456789abcdef" not in line
    assert event["job_id"] == "j1" and event["timestamp"].endswith("Z")
