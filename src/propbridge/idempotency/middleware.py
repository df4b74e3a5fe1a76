"""`Idempotency-Key` for every POST, as SPEC §4 promises (pure ASGI middleware).

The first request with a key claims it in its own committed transaction before the route runs;
its response (anything but a 5xx) is stored under the key. Later requests with the key get that
response again if their method, path and body are the same, a 409 if they differ, and a 409 while
the first is still running. A 5xx or a crash frees the key so that the client can try again.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propbridge.api.errors import error_response, too_large
from propbridge.auth.service import hash_token
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

    def __init__(self, app: ASGIApp, runtime: Runtime, max_body: int) -> None:
        self.app = app
        self.runtime = runtime
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
        body = await self._read_body(receive)
        if body is None:
            await too_large(self.max_body)(scope, receive, send)
            return
        token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")[2].strip()
        owner = hash_token(token)
        fingerprint = hashlib.sha256(
            b"\n".join(
                (scope["method"].encode(), scope["path"].encode(), scope["query_string"], body)
            )
        ).hexdigest()
        early = await self._claim(owner, key, fingerprint)
        if early is not None:
            await early(scope, receive, send)
            return
        await self._run(scope, body, send, owner, key)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

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
        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

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
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await self._release(owner, key)
            raise
        if status >= 500:
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
