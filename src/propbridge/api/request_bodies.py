"""Reading a JSON request body by hand (routes whose schema depends on the body itself).

Malformed or non-object bodies are 400s with the same error envelope as validated bodies.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import Request
from starlette.types import Message, Receive

from propbridge.api.errors import bad_request, issue


async def json_object_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 when it is not one."""
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("The body is not valid JSON", [issue([], "Invalid JSON")]) from None
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object", [issue([], "Expected an object")])
    return body


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKeyError(key)
        seen[key] = value
    return seen


def duplicate_json_key(raw: bytes) -> str | None:
    """The first key a JSON body repeats within one object (parsers would silently keep one of
    the two values); None when there is none or the body is not JSON (the route says so)."""
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as duplicate:
        return duplicate.key
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return None


async def read_bounded_body(receive: Receive, limit: int) -> bytes | None:
    """A request's whole body from its ASGI `receive`, or None as soon as it passes `limit`
    bytes (counted while it streams in, chunked or not)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_body(body: bytes) -> Receive:
    """A `receive` that hands over an already read body, then reports the client gone."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
