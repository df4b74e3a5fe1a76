"""Fault switches for the sandbox's ResMan surfaces (v1 and v2; never the control plane).

A pure ASGI middleware: each call may be delayed, answered 429 (with `Retry-After`), 500 or 503
before it is processed, held past the client's timeout before or after a post is stored, cut off
mid-response, answered with malformed XML, with a `Status=Error` envelope, or with a hostile
document (an entity-expansion bomb, or an external entity pointing at `hostile_url`). Set by
`POST /_sandbox/faults` or the CLI's `--fault-*` flags; `GET /_sandbox/faults` shows the settings
and what was injected, and `early_retries` counts documents sent again before the `Retry-After`
they were given.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FAULT_KINDS = (
    "rate_429",
    "rate_500",
    "rate_503",
    "timeout_before_store",
    "timeout_after_store",
    "drop_connection",
    "malformed_xml",
    "status_error",
    "hostile_xml",
)
# Faults answered without running the request at all (nothing is stored).
BEFORE = frozenset(
    {"rate_429", "rate_500", "rate_503", "timeout_before_store", "status_error", "hostile_xml"}
)


# A mix of every fault on half of the posts, reads untouched (the fault test and benchmark use it).
MIXED_POST_FAULTS: dict[str, Any] = {
    "only_posts": True,
    "rate_429": 0.08,
    "retry_after_seconds": 1,
    "rate_500": 0.04,
    "rate_503": 0.08,
    "timeout_before_store": 0.03,
    "timeout_after_store": 0.03,
    "drop_connection": 0.05,
    "malformed_xml": 0.04,
    "status_error": 0.03,
    "hostile_xml": 0.03,
    "hold_seconds": 1.5,
}


def billion_laughs() -> bytes:
    """The classic entity-expansion bomb, as a `<ResMan>` envelope."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE ResMan [' + "".join(entities) + "]>\n"
        "<ResMan><Status>Success</Status><Response>&lol9;</Response></ResMan>"
    ).encode()


def external_entity(url: str) -> bytes:
    """An envelope whose entity would fetch `url` if the parser resolved it."""
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE ResMan [<!ENTITY ext SYSTEM "{url}">]>\n'
        "<ResMan><Status>Success</Status><Response>&ext;</Response></ResMan>"
    ).encode()


@dataclass
class FaultSettings:
    """Probabilities (0–1) per call, and the knobs of the faults."""

    latency_ms: float = 0.0
    rate_429: float = 0.0
    retry_after_seconds: float = 1.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    timeout_before_store: float = 0.0
    timeout_after_store: float = 0.0
    drop_connection: float = 0.0
    malformed_xml: float = 0.0
    status_error: float = 0.0
    hostile_xml: float = 0.0
    hostile_url: str = "http://127.0.0.1:9/"
    hold_seconds: float = 35.0
    only_posts: bool = False
    seed: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultSettings:
        """Settings from JSON; unknown names or out-of-range values raise ValueError."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        settings = cls(**data)
        for name in FAULT_KINDS:
            value = getattr(settings, name)
            if not _number(value) or not math.isfinite(value) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability between 0 and 1")
        if sum(getattr(settings, name) for name in FAULT_KINDS) > 1:
            raise ValueError("the fault probabilities add up to more than 1")
        for name, most in MAX_DURATIONS.items():
            value = getattr(settings, name)
            if not _number(value) or not math.isfinite(value) or not 0 <= value <= most:
                raise ValueError(f"{name} must be a number from 0 to {most}")
        return settings


# Durations a fault may take: long enough for any timeout test, short enough that a request
# held by one ends (and the sandbox can stop) in bounded time.
MAX_DURATIONS = {"latency_ms": 60_000, "retry_after_seconds": 3600, "hold_seconds": 600}


def _number(value: object) -> bool:
    """An int or float, not a bool (JSON true would otherwise count as 1)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class FaultState:
    """The current settings and what they did."""

    settings: FaultSettings = field(default_factory=FaultSettings)
    injected: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    early_retries: int = 0
    # document digest → earliest moment a retry is allowed (from a 429's Retry-After)
    not_before: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings and reset the counters."""
        with self.lock:
            self.settings = settings
            self.injected, self.calls, self.early_retries = {}, 0, 0
            self.not_before = {}
            self.rng = random.Random(settings.seed)

    def report(self) -> dict[str, Any]:
        """Settings and counters, for `GET /_sandbox/faults`."""
        with self.lock:
            return {
                "settings": asdict(self.settings),
                "calls": self.calls,
                "injected": dict(self.injected),
                "early_retries": self.early_retries,
            }

    def draw(self, digest: str) -> str | None:
        """Which fault (if any) this call gets; also checks Retry-After was honoured."""
        with self.lock:
            self.calls += 1
            now = time.monotonic()
            allowed = self.not_before.pop(digest, None)
            if allowed is not None and now < allowed:
                self.early_retries += 1
            roll, total = self.rng.random(), 0.0
            for name in FAULT_KINDS:
                total += getattr(self.settings, name)
                if roll < total:
                    self.injected[name] = self.injected.get(name, 0) + 1
                    if name == "rate_429":
                        self.not_before[digest] = now + self.settings.retry_after_seconds
                    return name
            return None


class FaultMiddleware:
    """Injects the configured faults into the ResMan surfaces."""

    def __init__(self, app: ASGIApp, state: FaultState, envelope_error: bytes) -> None:
        self.app = app
        self.state = state
        self.envelope_error = envelope_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/_sandbox", "/partner-transactions")):
            await self.app(scope, receive, send)
            return
        settings = self.state.settings
        if settings.only_posts and not path.endswith("PostResidentTransactions2_0"):
            await self.app(scope, receive, send)
            return
        body = await _read_all(receive)
        if settings.latency_ms:
            await asyncio.sleep(settings.latency_ms / 1000)
        fault = self.state.draw(hashlib.sha256(path.encode() + body).hexdigest())
        replay = _replay(body)
        if fault is None:
            await self.app(scope, replay, send)
        elif fault in BEFORE:
            await self._answer_before(fault, send)
        elif fault == "timeout_after_store":
            await self.app(scope, replay, _discard)
            await asyncio.sleep(settings.hold_seconds)
        elif fault == "drop_connection":
            await self.app(scope, replay, _cut_off(send))
        else:  # malformed_xml: processed (maybe stored), then a broken answer
            await self.app(scope, replay, _discard)
            await _plain(send, 200, b"<ResMan><Status>Success</Status><Resp", "application/xml")

    async def _answer_before(self, fault: str, send: Send) -> None:
        settings = self.state.settings
        if fault == "rate_429":
            retry = str(max(1, round(settings.retry_after_seconds)))
            await _plain(
                send, 429, b"Too Many Requests", "text/plain", [(b"retry-after", retry.encode())]
            )
        elif fault in ("rate_500", "rate_503"):
            await _plain(send, int(fault[-3:]), b"Server Error", "text/plain")
        elif fault == "timeout_before_store":
            await asyncio.sleep(settings.hold_seconds)
            await _plain(send, 504, b"Gateway Timeout", "text/plain")
        elif fault == "status_error":
            await _plain(send, 200, self.envelope_error, "application/xml")
        elif self.state.rng.random() < 0.5:
            await _plain(send, 200, billion_laughs(), "application/xml")
        else:
            await _plain(send, 200, external_entity(settings.hostile_url), "application/xml")


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # no more body; wait like a quiet client
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _discard(_message: Message) -> None:
    return None


def _cut_off(send: Send) -> Send:
    """Pass the response start and half of the first body chunk, then drop the connection."""
    started = False

    async def cut(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            await send(message)
            started = True
        elif message["type"] == "http.response.body" and started:
            chunk = message.get("body", b"")
            await send(
                {"type": "http.response.body", "body": chunk[: len(chunk) // 2], "more_body": True}
            )
            raise ConnectionAbortedError("sandbox fault: connection dropped mid-response")

    return cut


async def _plain(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
