"""`Idempotency-Key` for every POST, as SPEC §4 promises and as Stripe does (pure ASGI
middleware).

Keys belong to an API key: a request whose token is not a live key's is passed on untouched
(the route answers 401) and costs no write, and no response is ever replayed to it. The first
request with a key claims it in its own committed transaction before the route runs; only a
request that ran to a success (2xx) keeps its response under the key: a redirect, a refusal (401, 403,
429, a validation 400, a conflict) or a 5xx or a crash frees the key, so that the client can
try again. Later requests with the key get the stored response again if their method, path and
body (compared as parsed JSON) are the same, a 409 if they differ, and a 409 while the first is
still running. Keys are forgotten after `KEY_TTL` and deleted by the housekeeping job.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propbridge.api.dependencies import PrincipalCache, bearer_token
from propbridge.api.errors import error_response, too_large
from propbridge.api.request_bodies import read_bounded_body, replay_body
from propbridge.db.base import utcnow
from propbridge.idempotency.models import IdempotencyKey
from propbridge.runtime import Runtime

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
# Kept at least a day (SPEC §4); an older key is forgotten when it is next used.
KEY_TTL = timedelta(hours=48)
# A claim this old whose request never finished (the process died) may be taken over.
STALE_CLAIM = timedelta(minutes=5)


class IdempotencyMiddleware:
    """Claims, replays and stores responses for POSTs that carry an `Idempotency-Key`."""

    def __init__(
        self, app: ASGIApp, runtime: Runtime, principals: PrincipalCache, max_body: int
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.principals = principals
        self.max_body = max_body

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
        token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        principal = (
            None if token is None else await self.principals.lookup(self.runtime.database, token)
        )
        if principal is None:
            await self.app(scope, receive, send)  # the route answers 401; nothing is kept
            return
        body = await read_bounded_body(receive, self.max_body)
        if body is None:
            await too_large(self.max_body)(scope, receive, send)
            return
        owner = principal.key_id
        fingerprint = hashlib.sha256(
            b"\n".join(
                (
                    scope["method"].encode(),
                    scope["path"].encode(),
                    scope["query_string"],
                    canonical_body(body),
                )
            )
        ).hexdigest()
        early = await self._claim(owner, key, fingerprint)
        if early is not None:
            await early(scope, receive, send)
            return
        await self._run(scope, body, send, owner, key)

    async def _claim(self, owner: str, key: str, fingerprint: str) -> Any | None:
        """None when this request now owns the key; else the response to give instead."""
        database = self.runtime.database
        for _ in range(3):
            try:
                async with database.write_connection() as connection:
                    await connection.execute(
                        insert(IdempotencyKey).values(
                            owner=owner, key=key, fingerprint=fingerprint, created_at=utcnow()
                        )
                    )
                return None
            except IntegrityError:
                pass
            async with database.write_connection() as connection:
                found = (
                    await connection.execute(
                        select(
                            IdempotencyKey.id,
                            IdempotencyKey.fingerprint,
                            IdempotencyKey.state,
                            IdempotencyKey.status_code,
                            IdempotencyKey.content_type,
                            IdempotencyKey.response_body,
                            IdempotencyKey.created_at,
                        ).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
                    )
                ).first()
                if found is None:
                    continue  # freed in between: claim again
                now = utcnow()
                expired = found.created_at < now - KEY_TTL
                abandoned = found.state == "processing" and found.created_at < now - STALE_CLAIM
                if expired or abandoned:
                    await connection.execute(
                        delete(IdempotencyKey).where(IdempotencyKey.id == found.id)
                    )
                    continue
            if found.fingerprint != fingerprint:
                return error_response(
                    409,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with another request (method, path or body)",
                )
            if found.state == "processing":
                return error_response(
                    409,
                    "request_in_progress",
                    "A request with this Idempotency-Key is still being processed; retry later",
                )
            body = b""
            if found.response_body:
                sealed = self.runtime.cipher.decrypt(owner, found.response_body)
                body = base64.b64decode(sealed["body"])
            return _Replay(found.status_code, found.content_type, body)
        return error_response(
            409, "request_in_progress", "The Idempotency-Key is contended; retry later"
        )

    async def _run(self, scope: Scope, body: bytes, send: Send, owner: str, key: str) -> None:
        status = 500
        content_type: str | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = (
                    dict(message.get("headers", [])).get(b"content-type", b"").decode("latin-1")
                    or None
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body(body), capture)
        except BaseException:
            await self._release(owner, key)
            raise
        if not 200 <= status < 300:
            await self._release(owner, key)
            return
        async with self.runtime.database.write_connection() as connection:
            await connection.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
                .values(
                    state="done",
                    status_code=status,
                    content_type=content_type,
                    # Encrypted: a response may hold a secret (a new webhook's, for one).
                    response_body=self.runtime.cipher.encrypt(
                        owner, {"body": base64.b64encode(b"".join(chunks)).decode()}
                    ),
                )
            )

    async def _release(self, owner: str, key: str) -> None:
        async with self.runtime.database.write_connection() as connection:
            await connection.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.owner == owner, IdempotencyKey.key == key
                )
            )


def canonical_body(body: bytes) -> bytes:
    """A JSON body as sorted, compact JSON (so key order and spacing do not matter); any other
    body as it is."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()


async def forget_expired_keys(session: AsyncSession) -> int:
    """Delete keys older than `KEY_TTL`; how many."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - KEY_TTL)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class _Replay:
    """The stored first response, sent again (marked `idempotent-replayed: true`)."""

    def __init__(self, status: int | None, content_type: str | None, body: bytes) -> None:
        self.status = status or 200
        self.content_type = content_type or "application/json"
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", self.content_type.encode("latin-1")),
                    (b"content-length", str(len(self.body)).encode()),
                    (b"idempotent-replayed", b"true"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})
