"""The rules of `Idempotency-Key`: a request's fingerprint, who holds a key, what a later request
with it gets, and what is kept of a response (encrypted: it may hold a secret, a new webhook's
for one). The middleware (`middleware.py`) speaks ASGI and calls these.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from propbridge.api.errors import ApiError
from propbridge.db.base import utcnow
from propbridge.db.engine import Database, Executor
from propbridge.idempotency import repository
from propbridge.integrations.credentials import CredentialCipher

# Kept at least a day (SPEC §4); an older key is forgotten when it is next used.
KEY_TTL = timedelta(hours=48)
# A claim this old whose request never finished (the process died) may be taken over.
STALE_CLAIM = timedelta(minutes=5)
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class StoredResponse:
    """The first response under a key, to be sent again."""

    status: int
    content_type: str
    body: bytes


def canonical_body(body: bytes) -> bytes:
    """A JSON body as sorted, compact JSON (so key order and spacing do not matter); any other
    body as it is."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests the same request: method, path, query and body (as parsed JSON)."""
    parts = (method.encode(), path.encode(), query, canonical_body(body))
    return hashlib.sha256(b"\n".join(parts)).hexdigest()


async def claim(
    database: Database, cipher: CredentialCipher, owner: str, key: str, request_fingerprint: str
) -> StoredResponse | None:
    """None when this request now holds the key (claimed in its own committed transaction);
    the first response when the same request succeeded before; 409 when the key was used
    with another request or its request is still running."""
    for _ in range(CLAIM_ATTEMPTS):
        try:
            async with database.write_connection() as connection:
                await repository.insert_claim(connection, owner, key, request_fingerprint, utcnow())
            return None
        except IntegrityError:
            pass
        async with database.write_connection() as connection:
            found = await repository.find(connection, owner, key)
            if found is None:
                continue  # freed in between: claim again
            now = utcnow()
            expired = found.created_at < now - KEY_TTL
            abandoned = found.state == "processing" and found.created_at < now - STALE_CLAIM
            if expired or abandoned:
                await repository.delete_by_id(connection, found.id)
                continue
        if found.fingerprint != request_fingerprint:
            raise ApiError(
                409,
                "idempotency_key_reused",
                "This Idempotency-Key was used with another request (method, path or body)",
            )
        if found.state == "processing":
            raise ApiError(
                409,
                "request_in_progress",
                "A request with this Idempotency-Key is still being processed; retry later",
            )
        body = b""
        if found.response_body:
            body = base64.b64decode(cipher.decrypt(owner, found.response_body)["body"])
        return StoredResponse(
            found.status_code or 200, found.content_type or "application/json", body
        )
    raise ApiError(409, "request_in_progress", "The Idempotency-Key is contended; retry later")


async def keep(
    database: Database,
    cipher: CredentialCipher,
    owner: str,
    key: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    """Keep a succeeded request's response under its key (encrypted)."""
    sealed = cipher.encrypt(owner, {"body": base64.b64encode(body).decode()})
    async with database.write_connection() as connection:
        await repository.store_response(connection, owner, key, status, content_type, sealed)


async def release(database: Database, owner: str, key: str) -> None:
    """Free a key whose request did not succeed, so that the client can try again."""
    async with database.write_connection() as connection:
        await repository.delete_claim(connection, owner, key)


async def forget_expired_keys(db: Executor) -> int:
    """Delete keys older than `KEY_TTL`; how many."""
    return await repository.delete_older_than(db, utcnow() - KEY_TTL)
