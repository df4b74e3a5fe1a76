"""Request bodies: read within their bounds of size and time, and JSON no route should read.

Bounds and checks only: what a body means is the route's business. Every check here costs time
linear in the body, in C where it can (see `json_body_problem`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import Request
from starlette.types import Message, Receive

from propbridge.api.errors import ApiError, bad_request, issue, too_large


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
    # One C-level dict() and a length comparison per object; the loop runs only for the object
    # that repeats a key, to name it. The dict is the object of the document the route reads.
    made = dict(pairs)
    if len(made) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return made


_pausing = threading.Lock()
_paused_by = 0
_was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a body is parsed for checking (in any number of
    threads at once): the lists the parse makes are garbage at once and hold no cycle, and
    collecting while a million of them are alive tripled the parse (0.32 s instead of 0.10 s for
    2 MiB of small nested arrays), all of it holding the interpreter."""
    global _paused_by, _was_enabled
    with _pausing:
        if _paused_by == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused_by += 1
    try:
        yield
    finally:
        with _pausing:
            _paused_by -= 1
            if _paused_by == 0 and _was_enabled:
                gc.enable()


# Deeper than any body of this API; deeper ones would cost the parsers their stack.
MAX_JSON_DEPTH = 32
# Bodies up to this size are checked on the event loop (about a millisecond at worst); larger
# ones in a worker thread (see `checked_json_body`).
INLINE_CHECK_BYTES = 16 * 1024

# The checks read a body with its escaped backslashes, then its escaped quotes, blanked out
# (the same length, so offsets still point into the body): what is left of a backslash then
# starts an escape of its own, and every `"` opens or closes a string.
_ESCAPED_BACKSLASH, _ESCAPED_QUOTE, _BLANK = b"\\\\", b'\\"', b"__"
_NUL_ESCAPE = b"\\u0000"
_STRING = re.compile(rb'"[^"]*"')
_COLON_NEXT = re.compile(rb"[ \t\r\n]*:")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")  # in valid JSON the kind does not change the depth
_CLOSERS = bytes.maketrans(b"[{", b"]}")


# What `checked_body` hands over for a body that is not JSON (the route says what is wrong).
NOT_JSON: Any = object()


def json_body_problem(raw: bytes) -> ApiError | None:
    """The 400 for a JSON body no route should read: a key repeated within one object (parsers
    would silently keep one of the two values), nesting deeper than `MAX_JSON_DEPTH`, or a NUL
    character in a string (no database column can hold it; the issue names where). None when
    there is none, or when the body is not JSON (the route says so)."""
    return checked_body(raw)[0]


def checked_body(raw: bytes) -> tuple[ApiError | None, Any]:
    """`json_body_problem`, and the document parsed (`NOT_JSON` if the body is not JSON): what
    the standard library's parser, the routes', makes of it, so that a route need not parse
    a large body again.

    Linear in the body: one parse whose hook is a C-level `dict` per object, then byte-string
    operations (`replace`, `find`, `translate`, one compiled regular expression). Only a body
    found to hold a NUL is parsed again, up to that string, to name where it is."""
    try:
        encoding = json.detect_encoding(raw)
        with _collector_paused():
            document = json.loads(raw, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as duplicate:
        return bad_request(
            f"The JSON body has the key {duplicate.key!r} twice",
            [issue([duplicate.key], "Given twice")],
        ), NOT_JSON
    except RecursionError:
        return _too_deep(), NOT_JSON
    except (ValueError, UnicodeDecodeError):
        return None, NOT_JSON
    if encoding != "utf-8":
        # The parser took UTF-16 or UTF-32 (or a byte-order mark); the checks below read UTF-8.
        raw = raw.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    plain = raw.replace(_ESCAPED_BACKSLASH, _BLANK)
    nul_at = plain.find(_NUL_ESCAPE)
    plain = plain.replace(_ESCAPED_QUOTE, _BLANK)
    if _innermost_removed(_STRING.sub(b"", plain).translate(_ONE_KIND, _NOT_BRACKETS)):
        return _too_deep(), NOT_JSON
    if nul_at >= 0:
        return bad_request(
            "The JSON body has a NUL character in a string",
            [issue(_path_to(raw, plain, nul_at), "NUL characters are not accepted")],
        ), NOT_JSON
    return None, document


# One thread checks the large bodies, one after another: a check holds the interpreter in
# steps of at most about 70 ms (the parse of 2 MiB of small arrays), between which the event
# loop takes it back, and several threads at once would only make it wait longer for it.
_LARGE_BODY_CHECKER = ThreadPoolExecutor(1, thread_name_prefix="body-check")


async def checked_json_body(raw: bytes) -> tuple[ApiError | None, Any]:
    """`checked_body`, off the event loop for a large body (up to about 0.25 s of CPU for the
    worst 2 MiB): its steps give the loop the interpreter back in between."""
    return await sized_work(len(raw), checked_body, raw)


Result = TypeVar("Result")


async def sized_work(size: int, work: Callable[..., Result], *arguments: Any) -> Result:
    """`work(*arguments)` on a body of `size` bytes: on the event loop for a small one, else in
    the thread that takes the large bodies one after another, the collector paused (what a
    route parses and validates of a large body costs as much as the checks do)."""
    if size <= INLINE_CHECK_BYTES:
        return work(*arguments)

    def paused() -> Result:
        with _collector_paused():
            return work(*arguments)

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_LARGE_BODY_CHECKER, paused)


def _too_deep() -> ApiError:
    return bad_request(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels")


def _innermost_removed(brackets: bytes, pairs: tuple[bytes, ...] = (b"[]",)) -> bytes:
    """The brackets of JSON text without its strings after `MAX_JSON_DEPTH` passes, each of
    which removes the innermost `pairs` everywhere: nothing is left of a document nested no
    deeper, and of a document's beginning only its brackets still open. About 0.12 s for the
    worst 2 MiB (small arrays nested 31 deep, side by side)."""
    for _level in range(MAX_JSON_DEPTH):
        fewer = brackets
        for pair in pairs:
            fewer = fewer.replace(pair, b"")
        if len(fewer) == len(brackets):
            break
        brackets = fewer
    return brackets


def _path_to(raw: bytes, plain: bytes, offset: int) -> list[str | int]:
    """Where the string holding `offset` is: the document up to the end of that string (given a
    value if it is a key), its open brackets closed, parsed, and followed down its last
    members. Only for the body being refused; linear in it too."""
    start, end = plain.rfind(b'"', 0, offset), plain.find(b'"', offset)
    brackets = _STRING.sub(b"", plain[:start]).translate(None, _NOT_BRACKETS)
    still_open = _innermost_removed(brackets, (b"[]", b"{}"))
    value = b":0" if _COLON_NEXT.match(plain, end + 1) else b""
    node: Any = json.loads(raw[: end + 1] + value + still_open[::-1].translate(_CLOSERS))
    path: list[str | int] = []
    while isinstance(node, dict | list) and node:
        if isinstance(node, dict):
            key = next(reversed(node))
            path.append(key)
            node = node[key]
        else:
            path.append(len(node) - 1)
            node = node[-1]
    return path


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


@dataclass(frozen=True)
class BodyBounds:
    """How much of a request body is read, and how long it may take to arrive: a client that
    sends nothing for `gap_seconds`, or has not sent it all after `total_seconds`, would
    otherwise hold its connection and its request for as long as it likes."""

    max_bytes: int
    gap_seconds: float
    total_seconds: float


def body_timeout(bounds: BodyBounds) -> ApiError:
    """408 for a body that stalled; the connection is closed after it."""
    return ApiError(
        408,
        "request_timeout",
        f"The request body must arrive within {bounds.total_seconds:g} s, with no pause longer "
        f"than {bounds.gap_seconds:g} s",
        headers={"Connection": "close"},
    )


async def read_bounded_body(receive: Receive, bounds: BodyBounds) -> bytes:
    """A request's whole body from its ASGI `receive`: 413 as soon as it passes
    `bounds.max_bytes` (counted while it streams in, chunked or not), 408 when it stalls."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bounds.total_seconds
    chunks, size = [], 0
    while True:
        try:
            async with asyncio.timeout_at(min(loop.time() + bounds.gap_seconds, deadline)):
                message = await receive()
        except TimeoutError:
            raise body_timeout(bounds) from None
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > bounds.max_bytes:
            raise too_large(bounds.max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def arrived_whole(receive: Receive, headers: dict[bytes, bytes]) -> bool:
    """Whether a request's whole body is already here, asked without waiting for any of it
    (nor inviting it: a client expecting `100 Continue` has sent none): a refusal answered
    before its body was read keeps the connection only then."""
    if b"continue" in headers.get(b"expect", b"").lower():
        return False
    first = asyncio.ensure_future(receive())
    await asyncio.sleep(0)  # one step: a body the server holds whole is handed over in it
    if not first.done():
        first.cancel()
        return False
    message = first.result()
    return message["type"] == "http.request" and not message.get("more_body", False)


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
