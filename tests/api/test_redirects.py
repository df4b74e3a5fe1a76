"""Redirects name the path and query only, never a host (see `app.relative_location`)."""

from __future__ import annotations

import pytest

from propbridge.app import relative_location


@pytest.mark.parametrize(
    "location,relative",
    [
        (b"http://evil.example:666/v1/residents/?limit=1", b"/v1/residents/?limit=1"),
        (b"https://evil.example", b"/"),
        (b"/v1/webhooks/", b"/v1/webhooks/"),
        (b"//evil.example/v1/", b"/evil.example/v1/"),
        (b"/\\evil.example/v1/", b"/evil.example/v1/"),
        (b"http://h//evil.example/", b"/evil.example/"),
    ],
)
def test_a_redirect_names_no_host(location: bytes, relative: bytes) -> None:
    assert relative_location(location) == relative
