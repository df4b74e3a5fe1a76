"""The integrations repository on a real database: live integrations, running syncs, job caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.db.base import utcnow
from propbridge.db.ids import new_id
from propbridge.integrations import repository
from tests import factories

T0 = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_live_integration_ignores_deleted_and_unknown_ones(session: AsyncSession) -> None:
    live = await factories.integration(session)
    deleted = await factories.integration(session, deleted_at=T0)
    assert await repository.live_integration(session, live.id) is live
    assert await repository.live_integration(session, deleted.id) is None
    assert await repository.live_integration(session, new_id()) is None


async def test_live_integrations_are_limited_to_the_allow_list(session: AsyncSession) -> None:
    one, two = await factories.integration(session), await factories.integration(session)
    deleted = await factories.integration(session, deleted_at=T0)
    scoped = repository.live_integrations(frozenset({one.id, deleted.id, new_id()}))
    assert [row.id for row in (await session.execute(scoped)).all()] == [one.id]
    everyone = {row.id for row in (await session.execute(repository.live_integrations(None)))}
    assert {one.id, two.id} <= everyone and deleted.id not in everyone


async def test_running_sync_ids_are_those_with_a_sync_queued_or_running(
    session: AsyncSession,
) -> None:
    queued, running, done, writing, idle, unasked = [
        await factories.integration(session) for _ in range(6)
    ]
    await factories.job(session, integration_id=queued.id)
    await factories.job(session, integration_id=running.id, state="running")
    await factories.job(session, integration_id=done.id, state="succeeded")
    await factories.job(session, integration_id=done.id, state="failed")
    await factories.job(session, integration_id=writing.id, kind="write")
    await factories.job(session, integration_id=unasked.id)
    asked = [i.id for i in (queued, running, done, writing, idle)]
    assert await repository.running_sync_ids(session, asked) == {queued.id, running.id}
    assert await repository.running_sync_ids(session, []) == set()


async def test_a_sync_whose_lease_ran_out_is_not_running(session: AsyncSession) -> None:
    dead, alive = await factories.integration(session), await factories.integration(session)
    hour = timedelta(hours=1)
    await factories.job(
        session, integration_id=dead.id, state="running", lease_expires_at=utcnow() - hour
    )
    await factories.job(
        session, integration_id=alive.id, state="running", lease_expires_at=utcnow() + hour
    )
    assert await repository.running_sync_ids(session, [dead.id, alive.id]) == {alive.id}


async def _auth(session: AsyncSession, integration_id: str) -> tuple[bool | None, datetime | None]:
    found = await repository.live_integration(session, integration_id)
    assert found is not None
    await session.refresh(found)
    return found.last_auth_ok, found.last_auth_at


async def test_record_auth_keeps_when_the_answer_was_first_given(session: AsyncSession) -> None:
    integration = await factories.integration(session, credentials_ciphertext=b"current")
    later = T0 + timedelta(minutes=5)
    await repository.record_auth(session, integration.id, b"current", False, T0)
    assert await _auth(session, integration.id) == (False, T0)
    await repository.record_auth(session, integration.id, b"current", False, later)
    assert await _auth(session, integration.id) == (False, T0)
    await repository.record_auth(session, integration.id, b"current", True, later)
    assert await _auth(session, integration.id) == (True, later)


async def test_record_auth_ignores_calls_made_with_replaced_credentials(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session, credentials_ciphertext=b"new")
    other = await factories.integration(session, credentials_ciphertext=b"old")
    await repository.record_auth(session, integration.id, b"old", False, T0)
    assert await _auth(session, integration.id) == (None, None)
    await repository.record_auth(session, integration.id, b"new", True, T0)
    assert await _auth(session, integration.id) == (True, T0)
    assert await _auth(session, other.id) == (None, None)


async def test_job_caps_are_each_integrations_max_job_concurrency(session: AsyncSession) -> None:
    default = await factories.integration(session)
    narrow = await factories.integration(session, max_job_concurrency=1)
    unasked = await factories.integration(session, max_job_concurrency=9)
    caps = await repository.job_caps(session, [default.id, narrow.id, new_id()])
    assert caps == {default.id: 4, narrow.id: 1}
    assert unasked.id not in caps


async def test_mark_synced_stamps_only_that_integration(session: AsyncSession) -> None:
    synced, other = await factories.integration(session), await factories.integration(session)
    synced_id, other_id = synced.id, other.id
    await repository.mark_synced(session, synced_id, T0)
    found = await repository.live_integration(session, synced_id)
    assert found is not None
    await session.refresh(found)
    assert found.last_completed_sync == T0
    untouched = await repository.live_integration(session, other_id)
    assert untouched is not None
    await session.refresh(untouched)
    assert untouched.last_completed_sync is None
