"""A reference names one transaction of a PMS account's ledger: reusing it under another batch
id, on another route, or from another integration of the same ResMan account is a 409 naming
the write that holds it (each clashing `charges[i]` of a batch), compared without case, outer
space or normal form; a reference with outer whitespace or an invisible character is a 400.
ResMan's sandbox never holds such a reference twice."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.attacks.test_cross_route_duplicates import _batch, _sent, race_to_one_write
from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack, free_port, http_up, synced_view, wait_for


@pytest.fixture(scope="module")
def sibling(stack: LiveStack, synced: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A second integration on the same ResMan account (same base URL and AccountID, another
    name), synced: it sees the same ledger through records of its own."""
    integration = stack.create_integration(base_url=stack.sandbox_url + "/")
    assert stack.sync(integration["id"])["state"] == "succeeded"
    yield synced_view(stack, integration)
    stack.http.delete(f"/v1/admin/integrations/{integration['id']}/")


def _refused(answer: Any, holder: str) -> list[dict[str, Any]]:
    """The issues of a 409 duplicate_reference naming `holder`."""
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "duplicate_reference" and error["details"]["job_id"] == holder
    issues: list[dict[str, Any]] = error["details"]["issues"]
    return issues


def _reference() -> str:
    return f"Réf-{uuid.uuid4().hex[:10]}"


def test_a_reference_under_another_batch_id_is_refused(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    charge = _charge(synced, reference_number=_reference())
    first = stack.http.post("/v1/resident-charges/resman/", json=charge)
    holder = first.json()["meta"]["job_id"]
    for path, body in (
        ("/v1/resident-charges/resman/", {**charge, "batch_id": "another-batch"}),
        ("/v1/resident-charges/", {**charge, "batch_id": "another-batch", "amount_in_cents": 1}),
        (
            "/v1/resident-payments/resman/",
            {
                **{k: v for k, v in charge.items() if k != "charge_code_id"},
                "batch_id": "payments",
                "payment_type": "ACH",
            },
        ),
    ):
        [issue] = _refused(stack.http.post(path, json=body), holder)
        assert issue["path"] == ["reference_number"] and issue["job_id"] == holder
    assert _sent(stack, charge["reference_number"]) == 1


@pytest.mark.parametrize(
    "variant",
    [
        lambda ref: ref.upper(),
        lambda ref: ref.lower(),
        lambda ref: ref.replace("é", "e\u0301"),  # the same é, decomposed
        lambda ref: ref.upper().replace("É", "E\u0301"),
    ],
    ids=["upper", "lower", "decomposed", "upper-decomposed"],
)
def test_case_and_normal_form_variants_are_the_same_reference(
    stack: LiveStack, synced: dict[str, Any], variant: Any
) -> None:
    charge = _charge(synced, reference_number=_reference())
    holder = stack.http.post("/v1/resident-charges/resman/", json=charge).json()["meta"]["job_id"]
    again = {**charge, "reference_number": variant(charge["reference_number"])}
    assert again["reference_number"] != charge["reference_number"]
    _refused(stack.http.post("/v1/resident-charges/resman/", json=again), holder)
    _refused(stack.http.post("/v1/resident-charges/batch/resman/", json=_batch(again)), holder)
    stack.writes_settled()
    held = stack.sandbox.get("/_sandbox/partner-transactions").json()["results"]
    assert [i["reference"] for i in held].count(again["reference_number"]) == 0


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        (" R-lead", "whitespace"),
        ("R-trail ", "whitespace"),
        ("R-tab\t", "whitespace"),
        ("R-nbsp\u00a0", "whitespace"),
        ("R-zero\u200bwidth", "U+200B"),
        ("R-bell\u0007", "U+0007"),
        ("R-bidi\u202e", "U+202E"),
    ],
)
def test_outer_whitespace_and_invisible_characters_are_refused(
    stack: LiveStack, synced: dict[str, Any], reference: str, why: str
) -> None:
    charge = _charge(synced, reference_number=reference)
    single = stack.http.post("/v1/resident-charges/resman/", json=charge)
    assert single.status_code == 400, single.text
    [issue] = single.json()["error"]["details"]["issues"]
    assert issue["path"] == ["reference_number"] and why in issue["message"], issue
    batch = stack.http.post(
        "/v1/resident-charges/batch/resman/", json=_batch(_charge(synced), charge)
    )
    assert batch.status_code == 400, batch.text
    paths = [i["path"] for i in batch.json()["error"]["details"]["issues"]]
    assert paths == [["charges", 1, "reference_number"]]


def test_a_batch_names_each_charge_whose_reference_is_held(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    held = [_charge(synced, reference_number=_reference()) for _ in range(2)]
    holders = [
        stack.http.post("/v1/resident-charges/resman/", json=c).json()["meta"]["job_id"]
        for c in held
    ]
    fresh = _charge(synced)
    batch = _batch(
        fresh,
        {**held[0], "batch_id": "B-new", "reference_number": held[0]["reference_number"].upper()},
        {**held[1], "batch_id": "B-new"},
    )
    issues = _refused(stack.http.post("/v1/resident-charges/batch/resman/", json=batch), holders[0])
    assert [(i["path"], i["job_id"]) for i in issues] == [
        (["charges", 1, "reference_number"], holders[0]),
        (["charges", 2, "reference_number"], holders[1]),
    ]
    assert _sent(stack, fresh["reference_number"]) == 0  # nothing of the batch went


def test_one_reference_twice_in_a_batch_is_refused_whatever_the_batch_ids(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    one = _charge(synced, reference_number=_reference())
    twin = {**one, "batch_id": "elsewhere", "reference_number": one["reference_number"].lower()}
    refused = stack.http.post("/v1/resident-charges/batch/resman/", json=_batch(one, twin))
    assert refused.status_code == 400, refused.text
    [issue] = refused.json()["error"]["details"]["issues"]
    assert issue["path"] == ["charges", 1, "reference_number"]


def test_two_integrations_of_one_account_cannot_both_send_a_reference(
    stack: LiveStack, synced: dict[str, Any], sibling: dict[str, Any]
) -> None:
    charge = _charge(synced, reference_number=_reference())
    holder = stack.http.post("/v1/resident-charges/resman/", json=charge).json()["meta"]["job_id"]
    theirs = _charge(sibling, reference_number=charge["reference_number"].upper())
    [issue] = _refused(stack.http.post("/v1/resident-charges/resman/", json=theirs), holder)
    assert issue["job_id"] == holder
    _refused(stack.http.post("/v1/resident-charges/batch/resman/", json=_batch(theirs)), holder)
    # The other way round, with a fresh reference, and a key limited to the sibling alone.
    token = stack.new_token(["write"], [sibling["integration"]["id"]])
    with stack.client(token) as limited:
        fresh = _charge(sibling)
        first = limited.post("/v1/resident-charges/resman/", json=fresh)
        assert first.status_code == 200, first.text
        mine = {**_charge(synced), "reference_number": fresh["reference_number"]}
        _refused(
            stack.http.post("/v1/resident-charges/resman/", json=mine),
            first.json()["meta"]["job_id"],
        )
    assert _sent(stack, charge["reference_number"]) == 1


def test_integrations_of_one_account_racing_send_a_reference_once(
    stack: LiveStack, synced: dict[str, Any], sibling: dict[str, Any]
) -> None:
    reference = _reference()
    calls = [
        (stack.http, "/v1/resident-charges/resman/", _charge(of, reference_number=reference))
        for of in (synced, sibling)
    ] * 4 + [
        (
            stack.http,
            "/v1/resident-charges/batch/resman/",
            _batch(_charge(of, reference_number=reference)),
        )
        for of in (synced, sibling)
    ] * 2
    race_to_one_write(calls)
    assert _sent(stack, reference) == 1


def test_two_api_processes_on_one_database_send_a_reference_once(
    stack: LiveStack, synced: dict[str, Any], sibling: dict[str, Any], tmp_path: Path
) -> None:
    """The stack's API and another `propbridge serve` process on the same database (one SQLite
    file, or one PostgreSQL database), racing with one reference from both integrations of the
    account: the claim's primary key settles it."""
    port = free_port()
    env = {
        **os.environ,
        "PROPBRIDGE_DATABASE_URL": stack.settings.effective_database_url,
        "PROPBRIDGE_ENCRYPTION_KEY": stack.settings.encryption_key or "",
        "PROPBRIDGE_DATA_DIR": str(tmp_path),
        "PROPBRIDGE_NOW": stack.clock.now().isoformat(),
    }
    log = (tmp_path / "serve.log").open("wb")
    other = subprocess.Popen(
        [sys.executable, "-m", "propbridge", "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        wait_for(lambda: http_up(f"http://127.0.0.1:{port}/healthz"), timeout=60)
        reference = _reference()
        bodies = [_charge(of, reference_number=reference) for of in (synced, sibling)]
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=stack.http.headers, timeout=30
        ) as second:
            clients = [stack.http, second]
            path = "/v1/resident-charges/resman/"
            race_to_one_write([(clients[n % 2], path, bodies[(n // 2) % 2]) for n in range(12)])
        assert _sent(stack, reference) == 1
    finally:
        other.terminate()
        other.wait(30)
        log.close()
