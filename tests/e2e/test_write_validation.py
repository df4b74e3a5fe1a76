"""Every bad input to `POST /v1/resident-charges/resman/` is a 400 that names the problem."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack

ROUTE = "/v1/resident-charges/resman/"
FIELDS = (
    "integration_id",
    "resident_id",
    "charge_code_id",
    "batch_id",
    "transaction_date",
    "description",
    "notes",
    "amount_in_cents",
    "reference_number",
)


def _assert_400(stack: LiveStack, body: Any, path: str | None) -> dict[str, Any]:
    response = stack.http.post(ROUTE, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    issues = error["details"]["issues"]
    assert issues and all("path" in i and "message" in i for i in issues)
    if path is not None:
        assert [path] in [i["path"] for i in issues], issues
    return error


@pytest.mark.parametrize("field", FIELDS)
def test_every_field_is_required(stack: LiveStack, synced: dict[str, Any], field: str) -> None:
    body = _charge(synced)
    del body[field]
    _assert_400(stack, body, field)


@pytest.mark.parametrize("field", [f for f in FIELDS if f != "amount_in_cents"])
@pytest.mark.parametrize("value", ["", "   ", None, 12, ["x"], {"a": 1}, True])
def test_text_fields_must_be_non_empty_strings(
    stack: LiveStack, synced: dict[str, Any], field: str, value: Any
) -> None:
    _assert_400(stack, _charge(synced, **{field: value}), field)


@pytest.mark.parametrize("amount", ["7500", 75.5, 7500.0, 0, -100, True, False, None, "", [1]])
def test_amount_must_be_a_positive_integer(
    stack: LiveStack, synced: dict[str, Any], amount: Any
) -> None:
    _assert_400(stack, _charge(synced, amount_in_cents=amount), "amount_in_cents")


@pytest.mark.parametrize(
    "when",
    [
        "2026-11-02",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-02-30T10:00:00Z",
        "02/11/2026 10:00",
        "1730000000",
        "2026-11-02T25:00:00Z",
    ],
)
def test_transaction_date_must_be_iso_date_time(
    stack: LiveStack, synced: dict[str, Any], when: str
) -> None:
    _assert_400(stack, _charge(synced, transaction_date=when), "transaction_date")


@pytest.mark.parametrize(
    "when",
    [
        "2026-11-02T10:00:00Z",
        "2026-11-02T10:00:00.123+02:00",
        "2026-11-02T10:00:00-05:00",
        "2026-11-02T10:00",
    ],
)
def test_iso_date_times_are_accepted(stack: LiveStack, synced: dict[str, Any], when: str) -> None:
    response = stack.http.post(ROUTE, json=_charge(synced, transaction_date=when))
    assert response.status_code == 200, response.text


def test_unknown_keys_are_rejected(stack: LiveStack, synced: dict[str, Any]) -> None:
    error = _assert_400(stack, {**_charge(synced), "foo": 1}, "foo")
    assert error["details"]["issues"][0]["code"] == "unrecognized_keys"


@pytest.mark.parametrize("raw", [b"not json", b"[]", b"null", b"", b'{"a":'])
def test_malformed_bodies_are_400(stack: LiveStack, raw: bytes) -> None:
    response = stack.http.post(ROUTE, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "error" in response.json()


def test_ids_must_belong_to_the_integration(stack: LiveStack, synced: dict[str, Any]) -> None:
    _assert_400(stack, _charge(synced, integration_id=str(uuid.uuid4())), "integration_id")
    _assert_400(stack, _charge(synced, resident_id=str(uuid.uuid4())), "resident_id")
    _assert_400(stack, _charge(synced, charge_code_id=str(uuid.uuid4())), "charge_code_id")
    lease = stack.http.get("/v1/leases/", params={"integration_id": synced["integration"]["id"]})
    _assert_400(stack, _charge(synced, resident_id=lease.json()["results"][0]["id"]), "resident_id")


def test_records_of_another_integration_are_rejected(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    other = stack.create_integration()
    _assert_400(stack, _charge(synced, integration_id=other["id"]), "resident_id")


def test_charge_code_of_another_property_is_rejected(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _charge(synced)
    resident = next(r for r in synced["residents"] if r["id"] == body["resident_id"])
    foreign = next(c for c in synced["charge_codes"] if c["property_id"] != resident["property_id"])
    _assert_400(stack, {**body, "charge_code_id": foreign["id"]}, "charge_code_id")


def test_credit_and_payment_categories_cannot_be_charged(
    stack: LiveStack, synced: dict[str, Any]
) -> None:
    body = _charge(synced)
    resident = next(r for r in synced["residents"] if r["id"] == body["resident_id"])
    others = [
        c
        for c in synced["charge_codes"]
        if c["property_id"] == resident["property_id"] and c["category_type"] != "Charge"
    ]
    assert {c["category_type"] for c in others} == {"Credit", "Payment", "Deposit"}
    for code in others:
        _assert_400(stack, {**body, "charge_code_id": code["id"]}, "charge_code_id")


@pytest.mark.parametrize("route", [ROUTE, "/v1/resident-payments/resman/", "/v1/resident-charges/"])
@pytest.mark.parametrize("raw", [b"not json", b'{"a":', b'{"a": "\xff"}'])
def test_a_body_is_read_only_once_the_caller_is_authenticated(
    stack: LiveStack, route: str, raw: bytes
) -> None:
    """No token is a 401 whatever the body (SPEC §3), on the vendor routes as on the generic."""
    with stack.client(None) as client:
        response = client.post(route, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
