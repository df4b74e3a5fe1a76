"""Rotating the encryption key: every secret at rest, of every domain, opened with the old key and
sealed with the new (composition: it touches integrations, webhooks and idempotency keys alike).

One transaction: either every secret is under the new key or none is.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.idempotency.models import IdempotencyKey
from propbridge.integrations.credentials import CredentialCipher
from propbridge.integrations.models import Integration
from propbridge.webhooks.models import Webhook


async def reencrypt_all(
    session: AsyncSession, old: CredentialCipher, new: CredentialCipher
) -> dict[str, int]:
    """Decrypt with `old`, encrypt with `new`, in the caller's transaction; counts per kind.

    Raises ConfigurationError (nothing changed) if any secret does not open with `old`."""
    counts = {"integrations": 0, "webhooks": 0, "idempotent responses": 0}
    for model, key, associated, column, kind in (
        (
            Integration,
            Integration.id,
            Integration.id,
            Integration.credentials_ciphertext,
            "integrations",
        ),
        (Webhook, Webhook.id, Webhook.id, Webhook.secret_ciphertext, "webhooks"),
        (
            IdempotencyKey,
            IdempotencyKey.id,
            IdempotencyKey.owner,
            IdempotencyKey.response_body,
            "idempotent responses",
        ),
    ):
        rows = await session.execute(select(key, associated, column).where(column.is_not(None)))
        for row_key, data, ciphertext in rows.all():
            secret = old.decrypt(str(data), ciphertext or b"")
            await session.execute(
                update(model).where(key == row_key).values({column: new.encrypt(str(data), secret)})
            )
            counts[kind] += 1
    return counts
