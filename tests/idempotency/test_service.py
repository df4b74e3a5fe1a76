"""The rules of `Idempotency-Key`: fingerprints, claims on a real database, kept responses
(encrypted), freed keys, and forgetting old ones."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.errors import ApiError
from propbridge.db.base import utcnow
from propbridge.db.engine import Database
from propbridge.idempotency import service
from propbridge.idempotency.models import IdempotencyKey
from propbridge.integrations.credentials import CredentialCipher, StaticKeyProvider

SAME = service.fingerprint("POST", "/v1/webhooks/", b"", b'{"url": "https://a.test/"}')
OTHER = service.fingerprint("POST", "/v1/webhooks/", b"", b'{"url": "https://b.test/"}')


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher(StaticKeyProvider(os.urandom(32)))


@pytest.fixture
async def owner(unit_database: Database) -> AsyncIterator[str]:
    """An owner of this test alone; its keys are deleted afterwards."""
    name = uuid.uuid4().hex
    yield name
    async with unit_database.write_connection() as connection:
        await connection.execute(delete(IdempotencyKey).where(IdempotencyKey.owner == name))


def test_a_fingerprint_ignores_json_key_order_and_spacing() -> None:
    compact = b'{"a":1,"b":{"c":[1,2],"d":"\\u00e9"}}'
    loose = b'{ "b": {"d": "\xc3\xa9", "c": [1, 2]},\n  "a": 1 }'
    assert service.fingerprint("POST", "/v1/x", b"q=1", compact) == service.fingerprint(
        "POST", "/v1/x", b"q=1", loose
    )


def test_a_fingerprint_tells_apart_method_path_query_and_body() -> None:
    base = service.fingerprint("POST", "/v1/x", b"q=1", b'{"a":1}')
    assert len(base) == 64
    for changed in (
        service.fingerprint("PUT", "/v1/x", b"q=1", b'{"a":1}'),
        service.fingerprint("POST", "/v1/y", b"q=1", b'{"a":1}'),
        service.fingerprint("POST", "/v1/x", b"q=2", b'{"a":1}'),
        service.fingerprint("POST", "/v1/x", b"", b'{"a":1}'),
        service.fingerprint("POST", "/v1/x", b"q=1", b'{"a":2}'),
        service.fingerprint("POST", "/v1/x", b"q=1", b'{"a":"1"}'),
        service.fingerprint("POST", "/v1/x", b"q=1", b'[{"a":1}]'),
    ):
        assert changed != base


def test_a_body_that_is_not_json_is_compared_as_it_is() -> None:
    assert service.canonical_body(b"a=1&b=2") == b"a=1&b=2"
    assert service.canonical_body(b"\xff\xfe") == b"\xff\xfe"
    assert service.fingerprint("POST", "/p", b"", b"x = 1") != service.fingerprint(
        "POST", "/p", b"", b"x=1"
    )


async def test_a_key_is_held_then_refused_while_its_request_runs(
    unit_database: Database, cipher: CredentialCipher, owner: str
) -> None:
    key = uuid.uuid4().hex
    assert await service.claim(unit_database, cipher, owner, key, SAME) is None
    with pytest.raises(ApiError) as running:
        await service.claim(unit_database, cipher, owner, key, SAME)
    assert (running.value.status, running.value.code) == (409, "request_in_progress")
    with pytest.raises(ApiError) as reused:
        await service.claim(unit_database, cipher, owner, key, OTHER)
    assert (reused.value.status, reused.value.code) == (409, "idempotency_key_reused")
    # Keys belong to their owner: another API key's same key is its own.
    other_owner = uuid.uuid4().hex
    try:
        assert await service.claim(unit_database, cipher, other_owner, key, OTHER) is None
    finally:
        await service.release(unit_database, other_owner, key)


async def test_a_kept_response_is_replayed_and_stored_encrypted(
    unit_database: Database, cipher: CredentialCipher, owner: str
) -> None:
    key = uuid.uuid4().hex
    body = b'{"id":"w1","secret":"whsec_topsecret"}'
    assert await service.claim(unit_database, cipher, owner, key, SAME) is None
    await service.keep(unit_database, cipher, owner, key, 201, "application/json", body)
    replayed = await service.claim(unit_database, cipher, owner, key, SAME)
    assert replayed == service.StoredResponse(201, "application/json", body)
    with pytest.raises(ApiError) as reused:
        await service.claim(unit_database, cipher, owner, key, OTHER)
    assert reused.value.code == "idempotency_key_reused"
    async with unit_database.read_connection() as connection:
        sealed = (
            await connection.execute(
                select(IdempotencyKey.response_body).where(
                    IdempotencyKey.owner == owner, IdempotencyKey.key == key
                )
            )
        ).scalar_one()
    assert sealed and b"topsecret" not in sealed


async def test_an_empty_response_without_a_type_is_replayed_as_json(
    unit_database: Database, cipher: CredentialCipher, owner: str
) -> None:
    key = uuid.uuid4().hex
    assert await service.claim(unit_database, cipher, owner, key, SAME) is None
    await service.keep(unit_database, cipher, owner, key, 204, None, b"")
    assert await service.claim(unit_database, cipher, owner, key, SAME) == (
        service.StoredResponse(204, "application/json", b"")
    )


async def test_a_released_key_can_be_claimed_again(
    unit_database: Database, cipher: CredentialCipher, owner: str
) -> None:
    key = uuid.uuid4().hex
    assert await service.claim(unit_database, cipher, owner, key, SAME) is None
    await service.release(unit_database, owner, key)
    # Even with another request: nothing was kept under it.
    assert await service.claim(unit_database, cipher, owner, key, OTHER) is None
    with pytest.raises(ApiError):
        await service.claim(unit_database, cipher, owner, key, OTHER)


async def test_an_expired_or_abandoned_claim_is_taken_over(
    unit_database: Database, cipher: CredentialCipher, owner: str
) -> None:
    now = utcnow()
    expired, abandoned, recent = (uuid.uuid4().hex for _ in range(3))
    rows = [
        {"key": expired, "state": "done", "created_at": now - service.KEY_TTL - timedelta(hours=1)},
        {
            "key": abandoned,
            "state": "processing",
            "created_at": now - service.STALE_CLAIM - timedelta(minutes=1),
        },
        {"key": recent, "state": "processing", "created_at": now - timedelta(minutes=1)},
    ]
    async with unit_database.write_connection() as connection:
        for row in rows:
            await connection.execute(
                insert(IdempotencyKey).values(owner=owner, fingerprint=OTHER, **row)
            )
    assert await service.claim(unit_database, cipher, owner, expired, SAME) is None
    assert await service.claim(unit_database, cipher, owner, abandoned, SAME) is None
    with pytest.raises(ApiError) as held:
        await service.claim(unit_database, cipher, owner, recent, OTHER)
    assert held.value.code == "request_in_progress"


async def test_forgetting_deletes_only_keys_older_than_their_time(session: AsyncSession) -> None:
    now = utcnow()
    owner = uuid.uuid4().hex
    # Whatever older keys the database already holds are forgotten too.
    already = await session.scalar(
        select(func.count()).where(IdempotencyKey.created_at < now - service.KEY_TTL)
    )
    ages = {
        "ancient": service.KEY_TTL * 10,
        "just-expired": service.KEY_TTL + timedelta(minutes=5),
        "almost-expired": service.KEY_TTL - timedelta(minutes=5),
        "fresh": timedelta(0),
    }
    for key, age in ages.items():
        session.add(IdempotencyKey(owner=owner, key=key, fingerprint=SAME, created_at=now - age))
    await session.flush()
    assert await service.forget_expired_keys(session) == (already or 0) + 2
    left = await session.scalars(select(IdempotencyKey.key).where(IdempotencyKey.owner == owner))
    assert sorted(left) == ["almost-expired", "fresh"]
