"""Propexo's Webhook object and, ours, a delivery with its attempts. Presentation only."""

from __future__ import annotations

from typing import Any

from propbridge.db.base import isoformat_z
from propbridge.integrations.credentials import CredentialCipher
from propbridge.webhooks.sealing import unseal


def present_webhook(cipher: CredentialCipher, hook: Any) -> dict[str, Any]:
    """A Webhook object (its secret and headers decrypted)."""
    secret, headers = unseal(cipher, hook.id, hook.secret_ciphertext, hook.headers)
    return {
        "id": hook.id,
        "created_at": isoformat_z(hook.created_at),
        "updated_at": isoformat_z(hook.updated_at),
        "url": hook.url,
        "headers": headers,
        "active": hook.active,
        "secret": secret,
        "system": "PRODUCTION",
        "triggers": hook.triggers,
    }


def present_delivery(row: Any, attempts: list[Any]) -> dict[str, Any]:
    """A delivery, its event's trigger and payload, and every attempt made."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "trigger": row.trigger,
        "state": row.state,
        "attempts": row.attempts,
        "created_at": isoformat_z(row.created_at),
        "next_attempt_at": isoformat_z(row.next_attempt_at) if row.state == "pending" else None,
        "delivered_at": isoformat_z(row.delivered_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "payload": row.payload,
        "attempt_log": [
            {
                "attempted_at": isoformat_z(a.attempted_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in attempts
        ],
    }
