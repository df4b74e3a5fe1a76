"""Attacks with input no client should send: bodies without end, numbers and dates past what the
storage can hold, characters XML cannot carry, a key given twice, filters the route does not
know, and a PMS that asks to be left alone for a year."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from propbridge.connectors.base import IntegrationAccess, RejectedError, TransactionToPost
from propbridge.connectors.resman.clients import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from propbridge.connectors.resman.connector import ResManConnector
from tests.e2e.test_payments_batches_generic import _batch, _payment
from tests.e2e.test_seed_path import _charge, _pending
from tests.support import LiveStack

CHUNK = b"x" * 65_536


def _endless() -> Iterator[bytes]:
    # 64 MB if nobody stops reading: far past the 2 MB cap.
    for _ in range(1024):
        yield CHUNK


def test_a_chunked_body_past_the_cap_is_cut_off(stack: LiveStack) -> None:
    """(A caller without a valid token is answered 401 before its body is read at all: see
    test_costs_before_authentication.)"""
    answer = stack.http.post(
        "/v1/resident-charges/resman/",
        content=_endless(),
        headers={"Content-Type": "application/json", "Idempotency-Key": "chunked"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


def test_a_declared_length_past_the_cap_is_refused_unread(stack: LiveStack) -> None:
    """50 MB announced, a few bytes sent: the answer comes without waiting for the rest."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as raw:
        raw.sendall(
            b"POST /v1/webhooks/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {stack.admin_token}\r\n".encode()
            + f"Content-Length: {50 * 1024 * 1024}\r\n\r\n".encode()
            + b"{}"
        )
        head = raw.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head


@pytest.mark.parametrize(
    "params",
    [
        {"offset": "99999999999999999999999"},
        {"offset": "-1"},
        {"limit": "1e9"},
        {"updated_at_gte": "9999-12-31T23:59:59-23:59"},
        {"updated_at_lte": "0001-01-01T00:00:00+23:59"},
        {"last_seen_gte": "99999-01-01"},
        {"updated_at_gte": "2026-11-30T10:00:00+99:00"},
    ],
)
def test_numbers_and_moments_past_the_range_are_a_400(
    stack: LiveStack, synced: dict[str, Any], params: dict[str, str]
) -> None:
    for path in ("/v1/residents/", "/v1/resident-charges/", "/v1/webhooks/"):
        if path == "/v1/webhooks/" and not params.keys() & {"offset", "limit"}:
            continue
        answer = stack.http.get(path, params=params)
        assert answer.status_code == 400, (path, params, answer.text)
        assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "field,value",
    [
        ("description", "Pet fee\x00"),
        ("description", "Pet \x01 fee"),
        ("notes", "bell \x07"),
        ("notes", "\ufffe"),
        ("reference_number", "REF-\x1b[31m"),
    ],
)
def test_characters_xml_cannot_carry_are_a_400_naming_the_field(
    stack: LiveStack, synced: dict[str, Any], field: str, value: str
) -> None:
    body = _charge(synced, **{field: value})
    answer = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert answer.status_code == 400, answer.text
    paths = [i["path"] for i in answer.json()["error"]["details"]["issues"]]
    assert [field] in paths


def test_a_document_that_cannot_be_built_is_refused_not_unknown() -> None:
    """Behind the API's check, the connector too: nothing is sent, so the outcome is known."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    async def post() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as http:
            connector = ResManConnector(
                IntegrationAccess(
                    "i",
                    "https://resman.invalid",
                    {"integrationPartnerId": "p", "accountId": "a", "apiKey": "k"},
                ),
                http,
            )
            await connector.post_transactions(
                "prop",
                [
                    TransactionToPost(
                        "charge",
                        "R1",
                        "B1",
                        "2026-11-02",
                        "bad \x01",
                        "",
                        100,
                        {"customer_id": "c1", "charge_code": "RENT"},
                    )
                ],
            )

    with pytest.raises(RejectedError):
        asyncio.run(post())
    assert sent == []


@pytest.mark.parametrize("day", ["1899-12-31T00:00:00Z", "2100-01-01T00:00:00Z", "0001-01-01"])
def test_transaction_dates_resman_cannot_take_are_a_400(
    stack: LiveStack, synced: dict[str, Any], day: str
) -> None:
    body = _charge(synced, transaction_date=day)
    answer = stack.http.post("/v1/resident-charges/resman/", json=body)
    assert answer.status_code == 400, answer.text
    assert ["transaction_date"] in [i["path"] for i in answer.json()["error"]["details"]["issues"]]
    assert _pending(stack, body["reference_number"]) == []


def test_a_key_given_twice_is_a_400(stack: LiveStack, synced: dict[str, Any]) -> None:
    body = _charge(synced)
    raw = '{"amount_in_cents": 1, ' + json.dumps(body)[1:]
    answer = stack.http.post(
        "/v1/resident-charges/resman/",
        content=raw.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert "amount_in_cents" in answer.text
    assert _pending(stack, body["reference_number"]) == []


def _list_routes(stack: LiveStack) -> list[str]:
    spec = stack.http.get("/openapi.json").json()
    return sorted(
        path
        for path, operations in spec["paths"].items()
        if "get" in operations and "{" not in path and path.startswith("/v1/")
    )


def test_unknown_query_parameters_are_a_400_on_every_list_route(stack: LiveStack) -> None:
    routes = _list_routes(stack)
    assert "/v1/resident-charges/" in routes and "/v1/webhooks/" in routes
    for path in routes:
        answer = stack.http.get(path, params={"residentid": "typo"})
        assert answer.status_code == 400, (path, answer.text)
        assert "residentid" in answer.text, path


def test_a_retry_after_from_the_pms_is_capped() -> None:
    def after(value: str) -> float | None:
        return retry_after_seconds(httpx.Response(429, headers={"Retry-After": value}))

    assert after("31536000") == MAX_RETRY_AFTER_SECONDS
    assert after("Fri, 31 Dec 9999 23:59:59 GMT") == MAX_RETRY_AFTER_SECONDS
    assert after("1e400") == MAX_RETRY_AFTER_SECONDS
    assert after("nan") is None
    assert after("-5") == 0.0
    assert after("12") == 12.0
    assert after("soon") is None


def test_deep_nesting_is_a_400_with_or_without_an_idempotency_key(stack: LiveStack) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000  # 200 KB: sent where a batch is taken
    reader = stack.client(stack.new_token(scopes=["read"]))
    for headers in ({}, {"Idempotency-Key": f"deep-{uuid.uuid4()}"}):
        for client in (stack.http, reader):
            answer = client.post(
                "/v1/resident-charges/batch/resman/",
                content=deep,
                headers={"Content-Type": "application/json", **headers},
            )
            assert answer.status_code == 400, answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/v1/resident-charges/resman/",
        "/v1/resident-charges/",
        "/v1/resident-payments/resman/",
        "/v1/webhooks/",
        "/v1/admin/integrations/",
        "/v1/admin/api-keys/",
    ],
)
def test_only_a_batch_takes_a_body_past_64_kib(stack: LiveStack, path: str) -> None:
    """One object of a few fields is never that large: what a body costs to parse and validate
    stays small on every route that does not need a large one."""
    body = b'{"notes": "' + b"x" * (64 * 1024) + b'"}'
    refused = stack.http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413, refused.text
    assert "65536 bytes" in refused.json()["error"]["message"]
    taken = stack.http.post(
        "/v1/resident-charges/batch/resman/",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert taken.status_code == 400, taken.text  # read and validated: not a batch


def test_nul_characters_are_a_400_everywhere(stack: LiveStack, synced: dict[str, Any]) -> None:
    """PostgreSQL cannot store or compare a NUL: refused before any query sees one."""
    for path in (
        "/v1/residents/a%00b",
        "/v1/admin/write-status/a%00b",
        "/v1/admin/integrations/a%00b/",
        "/v1/residents/?x_id=a%00b",
        "/v1/admin/logs/writes/?integration_id=a%00b",
    ):
        answer = stack.http.get(path)
        assert answer.status_code == 400, (path, answer.text)
    assert stack.http.delete("/v1/admin/api-keys/a%00b").status_code == 400
    named = stack.http.post(
        "/v1/admin/integrations/", json={"integration_vendor": "RESMAN", "name": "a\u0000b"}
    )
    assert named.status_code == 400
    assert named.json()["error"]["details"]["issues"][0]["path"] == ["name"]
    generic = stack.http.post("/v1/resident-charges/", json={"integration_id": "a\u0000"})
    assert generic.status_code == 400


@pytest.mark.parametrize("value", ["€uro", "tab\tok\u000b", "caf\u00e9"])
def test_webhook_header_values_are_printable_ascii(stack: LiveStack, value: str) -> None:
    answer = stack.http.post(
        "/v1/webhooks/",
        json={
            "url": "http://127.0.0.1:9/",
            "triggers": ["JOB_FAILURE"],
            "headers": [{"header": "X-Value", "value": value}],
        },
    )
    assert answer.status_code == 400, answer.text


def test_a_redirect_does_not_keep_an_idempotency_key(stack: LiveStack) -> None:
    key = {"Idempotency-Key": f"slash-{uuid.uuid4()}"}
    body = {"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"]}
    moved = stack.http.post("/v1/webhooks", json=body, headers=key)
    assert moved.status_code == 307
    landed = stack.http.post("/v1/webhooks/", json=body, headers=key)
    assert landed.status_code == 200, landed.text


def _every_write_route(
    synced: dict[str, Any], **bad: Any
) -> list[tuple[str, dict[str, Any], list[str | int]]]:
    """The same bad field through each write route: (path, body, where the 400 must point)."""
    charge = _charge(synced, **bad)
    payment = _payment(synced, **bad)
    batch = _batch(synced, 2)
    batch["charges"][1].update(bad)
    field = next(iter(bad))
    return [
        ("/v1/resident-charges/resman/", charge, [field]),
        ("/v1/resident-charges/", charge, [field]),
        ("/v1/resident-payments/resman/", payment, [field]),
        ("/v1/resident-payments/", payment, [field]),
        ("/v1/resident-charges/batch/resman/", batch, ["charges", 1, field]),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"description": "bell \x07"},
        {"notes": "\ufffe"},
        {"transaction_date": "1899-12-31T00:00:00Z"},
        {"transaction_date": "2100-01-01"},
    ],
)
def test_every_write_route_refuses_what_resman_cannot_take(
    stack: LiveStack, synced: dict[str, Any], bad: dict[str, Any]
) -> None:
    for path, body, where in _every_write_route(synced, **bad):
        answer = stack.http.post(path, json=body)
        assert answer.status_code == 400, (path, answer.text)
        assert where in [i["path"] for i in answer.json()["error"]["details"]["issues"]], (
            path,
            answer.text,
        )


def test_an_order_by_of_thousands_of_terms_is_a_400_on_every_list_route(
    stack: LiveStack,
) -> None:
    """SQLite refused an ORDER BY that long with a 500; every list shares the one parser."""
    routes = _list_routes(stack)
    assert {"/v1/residents/", "/v1/admin/integrations/", "/v1/admin/api-keys/"} <= set(routes)
    for path in routes:
        answer = stack.http.get(path, params={"order-by": ",".join(["created_at"] * 2000)})
        assert answer.status_code == 400, (path, answer.text)
        issues = answer.json()["error"]["details"]["issues"]
        assert [issue["path"] for issue in issues] == [["order-by"]], (path, answer.text)
    most = stack.http.get("/v1/residents/", params={"order-by": ",".join(["created_at"] * 16)})
    assert most.status_code == 200, most.text
