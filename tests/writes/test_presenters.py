"""Propexo's write_status from a job's state and its items' states."""

from __future__ import annotations

import pytest

from propbridge.writes.models import WriteItem, WriteRequest
from propbridge.writes.presenters import overall_status, present_write_status


def _items(*states: str) -> list[WriteItem]:
    return [WriteItem(position=i, status=s, reference_number=f"R{i}") for i, s in enumerate(states)]


@pytest.mark.parametrize(
    "job_state,states,expected",
    [
        ("queued", ("PENDING",), "PENDING"),
        ("running", ("PENDING", "PENDING"), "PENDING"),
        ("succeeded", ("ACCEPTED",), "SUCCESS"),
        ("succeeded", ("ACCEPTED", "POSTED"), "SUCCESS"),
        ("failed", ("REJECTED",), "FAILURE"),
        ("failed", ("OUTCOME_UNKNOWN",), "FAILURE"),
        ("failed", ("POSTED",), "SUCCESS"),
        ("failed", ("PENDING",), "FAILURE"),
        ("succeeded", ("ACCEPTED", "REJECTED"), "PARTIAL_SUCCESS"),
    ],
)
def test_overall_status(job_state: str, states: tuple[str, ...], expected: str) -> None:
    assert overall_status(job_state, _items(*states)) == expected


def test_a_job_that_failed_before_sending_reports_its_error() -> None:
    request = WriteRequest(errors=[], operation="resident_charge", integration_id="i")
    body = present_write_status(request, "failed", "ConfigurationError: bad key", _items("PENDING"))
    assert body["write_status"] == "FAILURE" and body["errors"] == ["ConfigurationError: bad key"]
    assert body["created_record_id"] is None
