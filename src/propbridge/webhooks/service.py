"""Managing webhooks: create, list, change, delete, and a delivery sent again.

A key limited to some integrations makes webhooks that hear only those, and sees only such
webhooks. Never commits: the request owns the unit of work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.errors import ApiError, bad_request, issue, not_found
from propbridge.api.listing import ListQuery, run_list
from propbridge.auth.service import Principal
from propbridge.db.base import utcnow
from propbridge.db.ids import new_id
from propbridge.integrations.credentials import CredentialCipher
from propbridge.sync.registry import SyncedModels
from propbridge.webhooks import repository
from propbridge.webhooks.events import DATA_TRIGGERS, ensure_delivery_job
from propbridge.webhooks.models import Webhook, WebhookDelivery
from propbridge.webhooks.presenters import present_delivery
from propbridge.webhooks.schemas import WebhookCreate, WebhookUpdate
from propbridge.webhooks.sealing import seal, unseal
from propbridge.webhooks.signing import new_secret

MAX_WEBHOOKS_PER_SCOPE = 25
DELIVERY_STATES = ("pending", "delivered", "dead", "cancelled")
ORDERABLE = {
    "id": Webhook.id,
    "created_at": Webhook.created_at,
    "updated_at": Webhook.updated_at,
    "url": Webhook.url,
    "active": Webhook.active,
}
DELIVERY_ORDERABLE = {
    "id": WebhookDelivery.id,
    "created_at": WebhookDelivery.created_at,
    "state": WebhookDelivery.state,
    "attempts": WebhookDelivery.attempts,
}


def check_model(model: str | None, synced: SyncedModels) -> None:
    """400 unless a webhook's `model` filter names a synced model."""
    if model is not None and model not in synced.names:
        message = f"Value error, must be one of {', '.join(synced.names)}"
        raise bad_request("The request is not valid", [issue(["model"], message, "value_error")])


def _triggers(names: list[str], model: str | None) -> list[dict[str, Any]]:
    return [
        {"id": new_id(), "trigger": name, "model": model if name in DATA_TRIGGERS else None}
        for name in dict.fromkeys(names)
    ]


def _scope(principal: Principal) -> list[str] | None:
    """The integrations a key's webhooks hear (None: all)."""
    return None if principal.integration_ids is None else sorted(principal.integration_ids)


async def visible_webhook(session: AsyncSession, principal: Principal, webhook_id: str) -> Webhook:
    """A webhook the key may see; 404 otherwise (never whether it exists for others)."""
    hook = await repository.visible_webhook(session, webhook_id, principal.integration_ids)
    if hook is None:
        raise not_found(f"Webhook {webhook_id}")
    return hook


async def list_webhooks(
    session: AsyncSession, principal: Principal, query: ListQuery, active: bool | None
) -> tuple[list[Any], dict[str, Any]]:
    """A page of the webhooks a key may see, active ones unless `active` is False. Scoped in
    the statement, before counting and paging: a key never learns how many webhooks others
    have, nor (ordering by url) where they point."""
    ids = await repository.visible_ids(session, principal.integration_ids)
    statement = repository.webhooks_statement(ids, True if active is None else active)
    return await run_list(session, statement, query, ORDERABLE)


async def create_webhook(
    session: AsyncSession, cipher: CredentialCipher, principal: Principal, body: WebhookCreate
) -> Webhook:
    """A new webhook (a secret generated when none is given); 409 past
    `MAX_WEBHOOKS_PER_SCOPE` for the key's scope."""
    webhook_id = new_id()
    secret = body.secret or new_secret()
    headers = [h.model_dump() for h in body.headers or []]
    scope = _scope(principal)
    await repository.lock_webhook_creation(session)
    if await repository.count_in_scope(session, scope) >= MAX_WEBHOOKS_PER_SCOPE:
        raise ApiError(
            409,
            "webhook_limit",
            f"At most {MAX_WEBHOOKS_PER_SCOPE} webhooks per set of integrations; delete one",
        )
    hook = Webhook(
        id=webhook_id,
        url=body.url,
        headers=[],
        active=body.active,
        secret_ciphertext=seal(cipher, webhook_id, secret, headers),
        triggers=_triggers(list(body.triggers), body.model),
        integration_ids=scope,
    )
    session.add(hook)
    return hook


async def update_webhook(
    session: AsyncSession, cipher: CredentialCipher, hook: Webhook, body: WebhookUpdate
) -> None:
    """Change any of a webhook's fields (a new secret is used from the next attempt on); an
    active webhook's delivery job is queued if it has none."""
    given = body.model_fields_set
    if "url" in given and body.url is not None:
        hook.url = body.url
    secret, headers = unseal(cipher, hook.id, hook.secret_ciphertext, hook.headers)
    if "headers" in given:
        headers = [h.model_dump() for h in body.headers or []]
    if "secret" in given and body.secret is not None:
        secret = body.secret
    hook.secret_ciphertext = seal(cipher, hook.id, secret, headers)
    hook.headers = []
    if "active" in given and body.active is not None:
        hook.active = body.active
    if "triggers" in given and body.triggers is not None:
        hook.triggers = _triggers(list(body.triggers), body.model)
    elif "model" in given:
        hook.triggers = _triggers([t["trigger"] for t in hook.triggers], body.model)
    hook.updated_at = utcnow()
    if hook.active:
        await repository.lock_webhooks(session, [hook.id])
        await ensure_delivery_job(session, hook.id)


async def delete_webhook(session: AsyncSession, hook: Webhook) -> None:
    """Nothing more is sent to it; its pending deliveries are cancelled."""
    hook.deleted_at = hook.updated_at = utcnow()
    hook.active = False
    await repository.cancel_pending(session, hook.id, "webhook deleted")


async def list_deliveries(
    session: AsyncSession, webhook_id: str, query: ListQuery, state: str | None
) -> dict[str, Any]:
    """A webhook's deliveries (in one state, if given) with every attempt."""
    if state and state not in DELIVERY_STATES:
        raise bad_request(
            f"Unknown state {state!r}", [issue(["state"], f"One of {', '.join(DELIVERY_STATES)}")]
        )
    statement = repository.deliveries_statement(webhook_id, state or None)
    rows, meta = await run_list(session, statement, query, DELIVERY_ORDERABLE)
    attempts = await repository.attempts_of(session, [row.id for row in rows])
    return {"meta": meta, "results": [present_delivery(row, attempts[row.id]) for row in rows]}


async def redeliver(session: AsyncSession, hook: Webhook, delivery_id: str) -> None:
    """Send a delivery again (same `webhook-id`), after those already waiting."""
    await repository.lock_webhooks(session, [hook.id])
    found = await repository.delivery_of(session, hook.id, delivery_id)
    if found is None:
        raise not_found(f"Delivery {delivery_id}")
    found.state, found.next_attempt_at, found.first_attempt_at = "pending", utcnow(), None
    found.created_at = utcnow()
    if hook.active:
        await ensure_delivery_job(session, hook.id)


async def delivery(session: AsyncSession, delivery_id: str) -> dict[str, Any]:
    """One delivery as the API shows it."""
    row = await repository.delivery_row(session, delivery_id)
    attempts = await repository.attempts_of(session, [delivery_id])
    return present_delivery(row, attempts[delivery_id])
