"""Reading a JSON request body by hand (routes whose schema depends on the body itself).

Malformed or non-object bodies are 400s with the same error envelope as validated bodies.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import Request
from starlette.types import Message, Receive

from propbridge.api.errors import ApiError, bad_request, issue


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


# Deeper than any body of this API; deeper ones would cost the parsers their stack.
MAX_JSON_DEPTH = 32


def json_body_problem(raw: bytes) -> ApiError | None:
    """The 400 for a JSON body no route should read: a key repeated within one object (parsers
    would silently keep one of the two values), nesting deeper than `MAX_JSON_DEPTH`, or a NUL
    character in a string (no database column can hold it; the issue names where). None when
    there is none, or when the body is not JSON (the route says so)."""
    try:
        parsed = json.loads(raw, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as duplicate:
        return bad_request(
            f"The JSON body has the key {duplicate.key!r} twice",
            [issue([duplicate.key], "Given twice")],
        )
    except RecursionError:
        return bad_request(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
    except (ValueError, UnicodeDecodeError):
        return None
    pending: list[tuple[Any, list[str | int]]] = [(parsed, [])]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return bad_request(
                    "The JSON body has a NUL character in a string",
                    [issue(path, "NUL characters are not accepted")],
                )
            continue
        if len(path) >= MAX_JSON_DEPTH:
            return bad_request(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, child in value.items():
                pending.append((key, [*path, key]))
                pending.append((child, [*path, key]))
        elif isinstance(value, list):
            pending.extend((child, [*path, index]) for index, child in enumerate(value))
    return None


FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")


def form_body_problem(content_type: bytes) -> ApiError | None:
    """The 400 for a form-encoded body: every body here is JSON, and a form would otherwise
    fail with a list of missing fields that does not say why."""
    if content_type.split(b";")[0].strip().lower() in FORM_TYPES:
        return bad_request(
            "Send the body as JSON with Content-Type: application/json (this body is form-encoded)",
            [issue([], "Expected a JSON body")],
        )
    return None


def nul_in_target(path: str, query_string: bytes) -> bool:
    """A NUL character in the path or the query (as `%00` or raw)."""
    return "\x00" in path or b"\x00" in query_string or b"%00" in query_string


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
