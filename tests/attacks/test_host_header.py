"""The `Host` header is the client's to choose: no response repeats it. Redirects name the path
and query only."""

from __future__ import annotations

import socket

import pytest

from tests.support import LiveStack, read_http_answer

HOSTILE = "evil.example:666"


@pytest.mark.parametrize(
    "method,target,location",
    [
        ("GET", "/v1/residents?limit=1", "/v1/residents/?limit=1"),
        ("POST", "/v1/webhooks", "/v1/webhooks/"),
        (
            "GET",
            "/v1/admin/integrations?limit=2&offset=0",
            "/v1/admin/integrations/?limit=2&offset=0",
        ),
    ],
)
def test_a_redirect_carries_a_relative_location_whatever_the_host(
    stack: LiveStack, method: str, target: str, location: str
) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as raw:
        raw.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: {HOSTILE}\r\n"
            f"Authorization: Bearer {stack.admin_token}\r\nContent-Length: 2\r\n\r\n{{}}".encode()
        )
        status, headers, body = read_http_answer(raw)
    assert status == 307
    assert headers["location"] == location
    assert b"evil" not in body and not any("evil" in value for value in headers.values())
