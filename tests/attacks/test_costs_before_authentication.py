"""Nothing unauthenticated costs more than a header check: a caller without a valid token is
answered before a byte of its body is read, a path that takes no body never has one read, and
the process keeps answering while such bodies arrive."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any

import pytest

from tests.support import LiveStack, closed_by_server, read_http_answer

TWO_MIB = 2 * 1024 * 1024


def _head(method: str, path: str, length: int, *extra: str) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer_before_the_body(
    stack: LiveStack, method: str, path: str, *extra: str
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Announce a 2 MiB body and send none of it: whatever answers did not read it."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as raw:
        raw.sendall(_head(method, path, TWO_MIB, *extra))
        status, headers, body = read_http_answer(raw)
    return status, headers, json.loads(body)


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic dXNlcjpwYXNz", "Bearer two words", "Bearer pb_forged", "revoked"],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_caller_without_a_valid_token_is_answered_401_before_its_body_is_read(
    stack: LiveStack, authorization: str | None, method: str
) -> None:
    if authorization == "revoked":
        token = stack.new_token()
        key_id = next(
            key["id"]
            for key in stack.http.get("/v1/admin/api-keys/", params={"limit": 250}).json()[
                "results"
            ]
            if key["token_prefix"] == token[:10]
        )
        assert stack.http.delete(f"/v1/admin/api-keys/{key_id}").status_code == 200
        authorization = f"Bearer {token}"
    extra = [f"Authorization: {authorization}"] if authorization else []
    path = "/v1/webhooks/x" if method != "POST" else "/v1/resident-charges/resman/"
    status, headers, body = _answer_before_the_body(stack, method, path, *extra)
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    # The same envelope and words as a route's own 401 for that header.
    route = stack.client(None).get(
        "/v1/properties/", headers={"Authorization": authorization} if authorization else {}
    )
    assert route.status_code == 401
    assert body == route.json()


@pytest.mark.parametrize(
    "method,path,status",
    [("POST", "/nowhere", 404), ("POST", "/healthz", 405), ("PUT", "/openapi.json", 405)],
)
def test_a_path_that_takes_no_body_answers_without_reading_one(
    stack: LiveStack, method: str, path: str, status: int
) -> None:
    answered, _headers, body = _answer_before_the_body(stack, method, path)
    assert answered == status
    assert set(body) == {"error"}


def test_the_console_reads_no_more_than_a_form(stack: LiveStack) -> None:
    status, _headers, body = _answer_before_the_body(stack, "POST", "/console/sign-in")
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"


def test_a_connection_answered_before_its_body_is_closed_not_drained(stack: LiveStack) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as raw:
        raw.sendall(_head("POST", "/v1/webhooks/", TWO_MIB, "Authorization: Bearer pb_forged"))
        assert read_http_answer(raw)[0] == 401
        assert closed_by_server(raw)


def test_a_body_arriving_after_its_answer_does_not_reset_the_answer(stack: LiveStack) -> None:
    """The 401 goes out on the headers; the small body follows a moment later. The server
    closes its side after the answer but keeps reading a little: closed at once, the body's
    arrival would be answered with a reset, which can destroy the 401 before it is read."""
    for _attempt in range(20):
        with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as raw:
            raw.sendall(_head("POST", "/v1/webhooks/", 2, "Authorization: Bearer pb_forged"))
            time.sleep(0.02)  # the answer is on its way
            raw.sendall(b"{}")
            time.sleep(0.02)  # the body reached the server after it answered
            status, _headers, body = read_http_answer(raw)
            assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
            assert closed_by_server(raw)


def test_a_request_whose_body_came_whole_keeps_its_connection(stack: LiveStack) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as raw:
        raw.sendall(_head("POST", "/v1/webhooks/", 2, "Authorization: Bearer pb_forged") + b"{}")
        assert read_http_answer(raw)[0] == 401
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _headers, body = read_http_answer(raw)
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_healthz_answers_while_unauthenticated_bodies_arrive(stack: LiveStack) -> None:
    """Six connections each sending 2 MiB bodies without a valid token, as fast as they can."""
    body = b'{"integration_id": "' + b"a" * (TWO_MIB - 22) + b'"}'
    stop = threading.Event()
    answered: list[int] = []

    def flood() -> None:
        while not stop.is_set():
            with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as raw:
                # The answer comes before the body is sent, and the connection is closed.
                with contextlib.suppress(OSError):
                    raw.sendall(_head("POST", "/v1/resident-charges/resman/", len(body)) + body)
                answered.append(read_http_answer(raw)[0])

    floods = [threading.Thread(target=flood) for _ in range(6)]
    for thread in floods:
        thread.start()
    try:
        plain = stack.client(None)
        for _ in range(20):
            assert plain.get("/healthz").json() == {"status": "ok"}
    finally:
        stop.set()
        for thread in floods:
            thread.join(30)
    assert answered and set(answered) == {401}


def test_pipelined_requests_are_each_answered(stack: LiveStack) -> None:
    """A second request already received while the first is answered is no unread body."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as raw:
        head = _head("POST", "/v1/webhooks/", 2, "Authorization: Bearer pb_forged")
        raw.sendall(head + b"{}" + head[:40])
        assert read_http_answer(raw)[0] == 401
        raw.sendall(head[40:] + b"{}")
        assert read_http_answer(raw)[0] == 401
