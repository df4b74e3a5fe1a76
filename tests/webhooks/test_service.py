"""The webhooks service on a real database: model filters, the per-scope cap, what a key may
see and list, and what deleting cancels."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.errors import ApiError
from propbridge.api.listing import ListQuery
from propbridge.catalog import SYNCED_MODELS
from propbridge.db.ids import new_id
from propbridge.integrations.credentials import CredentialCipher, StaticKeyProvider
from propbridge.webhooks import service
from propbridge.webhooks.models import Webhook, WebhookDelivery
from propbridge.webhooks.schemas import WebhookCreate
from propbridge.webhooks.sealing import unseal
from tests import factories


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher(StaticKeyProvider(os.urandom(32)))


def _body(**values: Any) -> WebhookCreate:
    return WebhookCreate.model_validate(
        {"url": "https://example.test/hook", "triggers": ["DATA_NEW"], **values}
    )


def _newest_first(limit: int = 100) -> ListQuery:
    return ListQuery(0, limit, [("created_at", "desc")])


def test_a_model_filter_must_name_a_synced_model() -> None:
    service.check_model(None, SYNCED_MODELS)
    for name in SYNCED_MODELS.names:
        service.check_model(name, SYNCED_MODELS)
    for wrong in ("tenants", "Residents", ""):
        with pytest.raises(ApiError) as refused:
            service.check_model(wrong, SYNCED_MODELS)
        assert refused.value.status == 400
        [problem] = refused.value.details["issues"]  # type: ignore[index]
        assert problem["path"] == ["model"] and "residents" in problem["message"]


async def test_a_new_webhook_hears_its_keys_integrations_with_its_secret_sealed(
    session: AsyncSession, cipher: CredentialCipher
) -> None:
    first, second = sorted((new_id(), new_id()))
    key = factories.principal("admin", integrations={second, first})
    body = _body(
        triggers=["DATA_NEW", "JOB_FAILURE", "DATA_NEW"],
        model="residents",
        secret="a-secret-of-mine",
        headers=[{"header": "X-Token", "value": "t0k"}],
        active=True,
    )
    hook = await service.create_webhook(session, cipher, key, body)
    await session.flush()
    stored = (
        await session.execute(select(Webhook.integration_ids).where(Webhook.id == hook.id))
    ).scalar_one()
    assert stored == [first, second]
    assert [(t["trigger"], t["model"]) for t in hook.triggers] == [
        ("DATA_NEW", "residents"),
        ("JOB_FAILURE", None),
    ]
    assert hook.headers == [] and b"a-secret-of-mine" not in hook.secret_ciphertext
    assert unseal(cipher, hook.id, hook.secret_ciphertext, hook.headers) == (
        "a-secret-of-mine",
        [{"header": "X-Token", "value": "t0k"}],
    )
    unscoped = await service.create_webhook(session, cipher, factories.principal(), _body())
    assert unscoped.integration_ids is None
    generated, _ = unseal(cipher, unscoped.id, unscoped.secret_ciphertext, [])
    assert generated.startswith("whsec_") and len(generated) > 40


async def test_each_key_scope_has_its_own_cap(
    session: AsyncSession, cipher: CredentialCipher
) -> None:
    one, other = new_id(), new_id()
    full = factories.principal("admin", integrations={one, other})
    made = [
        await service.create_webhook(session, cipher, full, _body())
        for _ in range(service.MAX_WEBHOOKS_PER_SCOPE)
    ]
    with pytest.raises(ApiError) as refused:
        await service.create_webhook(session, cipher, full, _body())
    assert (refused.value.status, refused.value.code) == (409, "webhook_limit")
    # Another scope (even a narrower one over the same integrations) is counted apart.
    narrower = factories.principal("admin", integrations={one})
    assert (await service.create_webhook(session, cipher, narrower, _body())).integration_ids == [
        one
    ]
    # A deleted webhook no longer counts.
    await service.delete_webhook(session, made[0])
    again = await service.create_webhook(session, cipher, full, _body())
    assert again.integration_ids == sorted((one, other))


async def test_a_key_sees_only_webhooks_within_its_integrations(session: AsyncSession) -> None:
    one, other = new_id(), new_id()
    mine = await factories.webhook(session, integration_ids=[one])
    wider = await factories.webhook(session, integration_ids=[one, other])
    everywhere = await factories.webhook(session)
    key = factories.principal("admin", integrations={one})
    assert (await service.visible_webhook(session, key, mine.id)).id == mine.id
    for hidden in (wider.id, everywhere.id, new_id()):
        with pytest.raises(ApiError) as refused:
            await service.visible_webhook(session, key, hidden)
        assert (refused.value.status, refused.value.code) == (404, "not_found")
        assert hidden in refused.value.message
    admin = factories.principal()
    for seen in (mine, wider, everywhere):
        assert (await service.visible_webhook(session, admin, seen.id)).id == seen.id


async def test_lists_are_scoped_before_counting(session: AsyncSession) -> None:
    one, other = new_id(), new_id()
    mine = [await factories.webhook(session, integration_ids=[one]) for _ in range(3)]
    resting = await factories.webhook(session, integration_ids=[one], active=False)
    await factories.webhook(session, integration_ids=[other])
    await factories.webhook(session, integration_ids=[one, other])
    await factories.webhook(session)
    gone = await factories.webhook(session, integration_ids=[one])
    await service.delete_webhook(session, gone)
    key = factories.principal("admin", integrations={one})
    rows, meta = await service.list_webhooks(session, key, _newest_first(), None)
    assert {row.id for row in rows} == {hook.id for hook in mine}
    assert meta["total"] == 3 and meta["hasMore"] is False
    page, meta = await service.list_webhooks(session, key, _newest_first(limit=1), True)
    assert len(page) == 1 and meta["total"] == 3 and meta["hasMore"] is True
    inactive, meta = await service.list_webhooks(session, key, _newest_first(), False)
    assert [row.id for row in inactive] == [resting.id] and meta["total"] == 1


async def test_deleting_a_webhook_cancels_only_its_pending_deliveries(
    session: AsyncSession,
) -> None:
    hook, neighbour = await factories.webhook(session), await factories.webhook(session)
    waiting = await factories.webhook_delivery(session, hook)
    sent = await factories.webhook_delivery(session, hook, state="delivered")
    theirs = await factories.webhook_delivery(session, neighbour)
    await service.delete_webhook(session, hook)
    await session.flush()
    rows = await session.execute(
        select(WebhookDelivery.id, WebhookDelivery.state).where(
            WebhookDelivery.id.in_([waiting.id, sent.id, theirs.id])
        )
    )
    states = {row.id: row.state for row in rows}
    assert states == {waiting.id: "cancelled", sent.id: "delivered", theirs.id: "pending"}
    reason = await session.scalar(
        select(WebhookDelivery.last_error).where(WebhookDelivery.id == waiting.id)
    )
    assert reason == "webhook deleted"
    assert hook.active is False and hook.deleted_at is not None
    with pytest.raises(ApiError) as refused:
        await service.visible_webhook(session, factories.principal(), hook.id)
    assert refused.value.status == 404
