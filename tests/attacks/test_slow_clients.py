"""Clients that send slowly or without end: headers that never finish (on a new connection or
a kept-alive one), headers without end, a body that stalls or trickles. Each is cut off within
its bound (set short here)."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import pytest

from propbridge.serving import MAX_HEADER_BYTES
from tests.support import LiveStack, closed_by_server, read_http_answer

HEADER_SECONDS = 0.5
BODY_GAP_SECONDS = 0.5
BODY_TOTAL_SECONDS = 1.5


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """A stack with short bounds (timeouts involve no database: SQLite alone)."""
    directory = tmp_path_factory.mktemp("slow")
    live = LiveStack(
        f"sqlite+aiosqlite:///{directory / 'slow.db'}",
        directory,
        header_timeout_seconds=HEADER_SECONDS,
        body_timeout_seconds=BODY_GAP_SECONDS,
        body_total_timeout_seconds=BODY_TOTAL_SECONDS,
    )
    yield live
    live.close()


def _connect(stack: LiveStack) -> socket.socket:
    # Far longer than any bound above: a server that never cuts the client off fails the test.
    return socket.create_connection(("127.0.0.1", stack.port), timeout=15)


def test_headers_that_never_finish_are_cut_off(slow_stack: LiveStack) -> None:
    with _connect(slow_stack) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        status, _headers, body = read_http_answer(raw)
        assert status == 408
        assert json.loads(body)["error"]["code"] == "request_timeout"
        assert closed_by_server(raw)


def test_a_connection_that_sends_nothing_is_closed(slow_stack: LiveStack) -> None:
    with _connect(slow_stack) as raw:
        assert read_http_answer(raw)[0] == 408
        assert closed_by_server(raw)


def test_a_kept_alive_connection_times_its_next_request_headers_too(
    slow_stack: LiveStack,
) -> None:
    with _connect(slow_stack) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_http_answer(raw)[0] == 200
        raw.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        answer = _trickle(raw, b"a")
        assert answer is not None and answer[0] == 408


def test_headers_past_the_cap_are_a_431(slow_stack: LiveStack) -> None:
    with _connect(slow_stack) as raw:
        # The server may close before taking it all.
        with contextlib.suppress(ConnectionError):
            raw.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
                + b"a" * (MAX_HEADER_BYTES + 1)
                + b"\r\n\r\n"
            )
        status, _headers, body = read_http_answer(raw)
        assert status == 431
        assert json.loads(body)["error"]["code"] == "headers_too_large"


def _trickle(raw: socket.socket, byte: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """Send `byte` every tenth of a second (never a pause past a gap bound) for up to 15 s,
    until an answer comes."""
    raw.settimeout(0.1)
    for _ in range(150):
        try:
            raw.sendall(byte)
            return read_http_answer(raw)
        except TimeoutError:
            continue
    return None


def _post_head(stack: LiveStack, length: int) -> bytes:
    return (
        f"POST /v1/webhooks/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {stack.admin_token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_a_body_that_stalls_is_a_408(slow_stack: LiveStack) -> None:
    with _connect(slow_stack) as raw:
        raw.sendall(_post_head(slow_stack, 100) + b'{"url": ')
        status, headers, body = read_http_answer(raw)
        assert status == 408
        assert headers["connection"] == "close"
        assert json.loads(body)["error"]["code"] == "request_timeout"
        assert closed_by_server(raw)


def test_a_body_that_trickles_past_its_total_bound_is_a_408(slow_stack: LiveStack) -> None:
    with _connect(slow_stack) as raw:
        raw.sendall(_post_head(slow_stack, 1000))
        answer = _trickle(raw, b" ")
        assert answer is not None and answer[0] == 408
        assert json.loads(answer[2])["error"]["code"] == "request_timeout"
