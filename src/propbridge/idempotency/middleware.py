"""`Idempotency-Key` for every POST, as SPEC §4 promises and as Stripe does (pure ASGI
middleware).

Keys belong to an API key: the request-context layer has authenticated the caller (and counted
the request against its key's rate limit) before this runs, so a request without a live key's
token never gets here on `/v1` and costs no write, and no response is ever replayed to it; a
replay and a 409 count as requests of the key like any other. The first
request with a key claims it in its own committed transaction before the route runs; only a
request that ran to a success (2xx) keeps its response under the key: a redirect, a refusal (401, 403,
429, a validation 400, a conflict) or a 5xx or a crash frees the key, so that the client can
try again. Later requests with the key get the stored response again if their method, path and
body (compared as parsed JSON) are the same, a 409 if they differ, and a 409 while the first is
still running. Keys are forgotten after `service.KEY_TTL` and deleted by the housekeeping job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propbridge.api.errors import ApiError, error_response, response_of
from propbridge.api.request_bodies import BodyBounds, read_bounded_body, replay_body
from propbridge.idempotency import service

if TYPE_CHECKING:
    from propbridge.auth.service import Principal
    from propbridge.runtime import Runtime

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255


class IdempotencyMiddleware:
    """Claims, replays and stores responses for POSTs that carry an `Idempotency-Key`."""

    def __init__(self, app: ASGIApp, runtime: Runtime, bounds: BodyBounds) -> None:
        self.app = app
        self.runtime = runtime
        self.bounds = bounds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(HEADER, b"").decode("latin-1").strip()
        if not key:
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH:
            response = error_response(
                400, "bad_request", f"Idempotency-Key is limited to {MAX_KEY_LENGTH} characters"
            )
            await response(scope, receive, send)
            return
        principal: Principal | None = scope.get("state", {}).get("principal")
        if principal is None:
            # Outside `/v1` (the console's forms): no API key to keep a response for.
            await self.app(scope, receive, send)
            return
        try:
            body = await read_bounded_body(receive, self.bounds)
        except ApiError as refused:
            await response_of(refused)(scope, receive, send)
            return
        owner = principal.key_id
        request_fingerprint = service.fingerprint(
            scope["method"], scope["path"], scope["query_string"], body
        )
        try:
            stored = await service.claim(
                self.runtime.database, self.runtime.cipher, owner, key, request_fingerprint
            )
        except ApiError as refused:
            await response_of(refused)(scope, receive, send)
            return
        if stored is not None:
            await _Replay(stored)(scope, receive, send)
            return
        await self._run(scope, body, send, owner, key)

    async def _run(self, scope: Scope, body: bytes, send: Send, owner: str, key: str) -> None:
        """Run the request and store its answer before the client sees it: a client that sends
        the same key again as soon as it has the answer must get it replayed, not a 409 for a
        request still in progress."""
        status = 500
        content_type: str | None = None
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = (
                    dict(message.get("headers", [])).get(b"content-type", b"").decode("latin-1")
                    or None
                )
            messages.append(message)

        database = self.runtime.database
        try:
            await self.app(scope, replay_body(body), capture)
        except BaseException:
            await service.release(database, owner, key)
            raise
        if 200 <= status < 300:
            chunks = [m.get("body", b"") for m in messages if m["type"] == "http.response.body"]
            await service.keep(
                database, self.runtime.cipher, owner, key, status, content_type, b"".join(chunks)
            )
        else:
            await service.release(database, owner, key)
        for message in messages:
            await send(message)


class _Replay:
    """The stored first response, sent again (marked `idempotent-replayed: true`)."""

    def __init__(self, stored: service.StoredResponse) -> None:
        self.stored = stored

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.stored.body
        await send(
            {
                "type": "http.response.start",
                "status": self.stored.status,
                "headers": [
                    (b"content-type", self.stored.content_type.encode("latin-1")),
                    (b"content-length", str(len(body)).encode()),
                    (b"idempotent-replayed", b"true"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
