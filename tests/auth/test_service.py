"""API keys: issued as hashes only, resolved to principals, rotated and listed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge import clock
from propbridge.auth import service
from propbridge.auth.models import ApiKey
from propbridge.auth.service import Principal
from propbridge.db.ids import new_id
from tests import factories

MOMENT = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
# Later than any key a test makes with the real clock: these come first, newest first.
FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


async def test_a_key_is_stored_as_a_hash_of_its_token(session: AsyncSession) -> None:
    key, token = await service.issue_api_key(
        session, "billing", ["write", "read", "write"], ["i-2", "i-1"], rate_limit=60
    )
    assert token.startswith(service.TOKEN_PREFIX) and len(token) > 40
    stored = (await session.execute(select(ApiKey).where(ApiKey.id == key.id))).scalar_one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.token_hash == service.hash_token(token)
    assert stored.token_prefix == token[:10]
    columns = [getattr(stored, c.key) for c in ApiKey.__table__.columns]
    assert all(token not in str(value) for value in columns)
    assert stored.scopes == ["read", "write"] and stored.integration_ids == ["i-2", "i-1"]
    assert (stored.rate_limit, stored.expires_at, stored.revoked_at) == (60, None, None)
    shown = service.present_api_key(stored)
    assert "token_hash" not in shown and token not in str(shown)
    _, other = await service.issue_api_key(session, "billing", ["read"], None)
    assert other != token


async def test_an_empty_allow_list_means_every_integration(session: AsyncSession) -> None:
    key, _ = await service.issue_api_key(session, "all", ["read"], [])
    assert key.integration_ids is None


async def test_an_expiring_key_expires_that_many_days_on(session: AsyncSession) -> None:
    with clock.using(clock.Clock.starting_at(MOMENT)):
        key, _ = await service.issue_api_key(session, "temp", ["read"], None, expires_in_days=3)
    assert key.expires_at is not None
    assert timedelta(0) <= key.expires_at - (MOMENT + timedelta(days=3)) < timedelta(minutes=1)


async def test_unknown_scopes_are_refused_and_nothing_is_stored(session: AsyncSession) -> None:
    before = await session.scalar(select(func.count(ApiKey.id)))
    with pytest.raises(ValueError, match="unknown scope\\(s\\): root, superuser"):
        await service.issue_api_key(session, "bad", ["read", "superuser", "root"], None)
    assert await session.scalar(select(func.count(ApiKey.id))) == before


async def test_live_principals_are_the_keys_not_revoked(session: AsyncSession) -> None:
    live, live_token = await service.issue_api_key(session, "a", ["read", "admin"], ["i-1"])
    everywhere, everywhere_token = await service.issue_api_key(session, "b", ["read"], None)
    revoked, revoked_token = await service.issue_api_key(session, "c", ["read"], None)
    assert await service.revoke_api_key(session, revoked.id) is revoked
    principals = await service.live_principals(session)
    assert principals[service.hash_token(live_token)] == Principal(
        live.id, frozenset({"read", "admin"}), frozenset({"i-1"}), None, None
    )
    assert principals[service.hash_token(everywhere_token)].integration_ids is None
    assert principals[service.hash_token(everywhere_token)].key_id == everywhere.id
    assert service.hash_token(revoked_token) not in principals
    assert revoked.id not in {p.key_id for p in principals.values()}


async def test_revoking_twice_keeps_the_first_instant(session: AsyncSession) -> None:
    key, _ = await service.issue_api_key(session, "a", ["read"], None)
    with clock.using(clock.Clock.starting_at(MOMENT)):
        await service.revoke_api_key(session, key.id)
    first = key.revoked_at
    assert first is not None and first - MOMENT < timedelta(minutes=1)
    await service.revoke_api_key(session, key.id)
    assert key.revoked_at == first
    assert await service.revoke_api_key(session, new_id()) is None


async def test_rotation_revokes_the_old_key_and_keeps_what_it_allowed(
    session: AsyncSession,
) -> None:
    old, old_token = await service.issue_api_key(
        session, "sync", ["read", "write"], ["i-1", "i-2"], rate_limit=30, expires_in_days=10
    )
    rotated = await service.rotate_api_key(session, old.id)
    assert rotated is not None
    new, new_token = rotated
    assert new.id != old.id and new_token != old_token
    assert old.revoked_at is not None and new.revoked_at is None
    assert (new.name, new.scopes, new.integration_ids, new.rate_limit) == (
        "sync",
        ["read", "write"],
        ["i-1", "i-2"],
        30,
    )
    assert new.expires_at == old.expires_at
    principals = await service.live_principals(session)
    assert service.hash_token(old_token) not in principals
    assert principals[service.hash_token(new_token)].key_id == new.id
    assert await service.rotate_api_key(session, old.id) is None
    assert await service.rotate_api_key(session, new_id()) is None


async def test_keys_are_listed_newest_first_in_pages(session: AsyncSession) -> None:
    made = [
        await factories.api_key(session, name=name, created_at=FUTURE + timedelta(days=days))
        for name, days in (("b", 1), ("c", 3), ("a", 2))
    ]
    _, total = await service.list_api_keys(session, limit=0)
    page, same_total = await service.list_api_keys(session, limit=2)
    assert total == same_total and total >= 3
    assert [key.id for key in page] == [made[1].id, made[2].id]
    second, _ = await service.list_api_keys(session, offset=2, limit=1)
    assert [key.id for key in second] == [made[0].id]
    oldest_last, _ = await service.list_api_keys(
        session, offset=total - 3, order_by=[("created_at", "asc")]
    )
    assert [key.id for key in oldest_last] == [made[0].id, made[2].id, made[1].id]


async def test_keys_of_the_same_instant_are_ordered_by_id(session: AsyncSession) -> None:
    prefix = new_id()[:-2]
    second = await factories.api_key(session, id=prefix + "02", name="a", created_at=FUTURE)
    first = await factories.api_key(session, id=prefix + "01", name="b", created_at=FUTURE)
    page, _ = await service.list_api_keys(session, limit=2)
    assert [key.id for key in page] == [first.id, second.id]
    by_name, _ = await service.list_api_keys(
        session, order_by=[("created_at", "desc"), ("name", "asc")], limit=2
    )
    assert [key.id for key in by_name] == [second.id, first.id]


def test_a_principal_may_use_its_integrations_only() -> None:
    limited = Principal("k", frozenset({"read"}), frozenset({"i-1", "i-2"}))
    assert limited.may_use("i-1") and limited.may_use("i-2")
    assert not limited.may_use("i-3") and not limited.may_use("")
    assert Principal("k", frozenset({"read"}), None).may_use("anything")


def test_a_principal_expires_at_its_instant() -> None:
    with clock.using(clock.Clock.starting_at(MOMENT)):
        assert not Principal("k", frozenset(), None).expired
        assert Principal("k", frozenset(), None, expires_at=MOMENT - timedelta(days=1)).expired
        assert Principal("k", frozenset(), None, expires_at=MOMENT).expired
        assert not Principal("k", frozenset(), None, expires_at=MOMENT + timedelta(days=1)).expired
