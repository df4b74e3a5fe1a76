"""A webhook's secrets at rest: its signing secret and its own headers (whose values are often
credentials of the receiving end), encrypted together with the webhook's id as associated data.

Encryption and its shape only; the routes and the delivery job call it.
"""

from __future__ import annotations

from propbridge.db.engine import Executor
from propbridge.integrations.credentials import CredentialCipher
from propbridge.webhooks import repository

Headers = list[dict[str, str]]


def seal(cipher: CredentialCipher, webhook_id: str, secret: str, headers: Headers) -> bytes:
    """The ciphertext of a webhook's secret and headers."""
    return cipher.encrypt(webhook_id, {"secret": secret, "headers": headers})


def unseal(
    cipher: CredentialCipher, webhook_id: str, ciphertext: bytes, plain_headers: Headers | None
) -> tuple[str, Headers]:
    """A webhook's secret and headers (headers saved before they were sealed come from their
    old plain column)."""
    opened = cipher.decrypt(webhook_id, ciphertext)
    headers = opened.get("headers")
    return str(opened["secret"]), list(headers if headers is not None else plain_headers or [])


async def seal_plain_headers(db: Executor, cipher: CredentialCipher) -> int:
    """Move header values stored in plain text (before sealing existed) into the ciphertext;
    the number of webhooks changed. Run at start-up, after migrations."""
    rows = await repository.plain_headers(db)
    for row in rows:
        secret, headers = unseal(cipher, row.id, row.secret_ciphertext, row.headers)
        await repository.set_sealed(db, row.id, seal(cipher, row.id, secret, headers))
    return len(rows)
