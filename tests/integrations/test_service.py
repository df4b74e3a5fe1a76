"""The integrations service on a real database: which models may be synced, the presented
object, a key's list of integrations, and who may manage one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.errors import ApiError
from propbridge.api.listing import ListQuery
from propbridge.catalog import SYNCED_MODELS
from propbridge.db.base import utcnow
from propbridge.db.ids import new_id
from propbridge.integrations import service
from propbridge.integrations.credentials import CredentialCipher, StaticKeyProvider
from propbridge.integrations.schemas import IntegrationUpdate
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.models import Job
from propbridge.outbound import OutboundPolicy
from propbridge.residents.models import Lease, Property
from propbridge.sync.models import SyncRun
from propbridge.sync.registry import SyncedModel, SyncedModels
from propbridge.sync.repository import WORKER_STOPPED
from tests import factories

T0 = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
SMALL = SyncedModels(
    (SyncedModel("properties", Property, "properties"), SyncedModel("leases", Lease, "leases"))
)


def _newest_first(limit: int, offset: int = 0) -> ListQuery:
    return ListQuery(offset, limit, [("created_at", "desc")])


def test_check_models_accepts_synced_models_or_none() -> None:
    service.check_models(None, SYNCED_MODELS)
    service.check_models([], SYNCED_MODELS)
    service.check_models(["residents", "properties"], SYNCED_MODELS)


def test_check_models_names_the_unknown_ones() -> None:
    with pytest.raises(ApiError) as refused:
        service.check_models(["residents", "zebras", "apples"], SYNCED_MODELS)
    assert refused.value.status == 400
    assert refused.value.message == "Cannot sync apples, zebras"
    [problem] = refused.value.details["issues"]  # type: ignore[index]
    assert problem["path"] == ["models_to_sync"] and problem["code"] == "invalid_enum_value"
    assert problem["message"] == f"Syncable models: {', '.join(SYNCED_MODELS.names)}"
    with pytest.raises(ApiError):
        service.check_models(["residents"], SMALL)


async def test_present_lists_the_registrys_models(session: AsyncSession) -> None:
    integration = await factories.integration(session, created_at=T0, updated_at=T0)
    shown = service.present(integration, SYNCED_MODELS)
    assert list(shown["models"]) == list(SYNCED_MODELS.names)
    assert shown["models"]["residents"] == {"enabled": True, "from_interfaces": []}
    small = service.present(integration, SMALL, is_running_sync=True)
    assert list(small["models"]) == ["properties", "leases"]
    assert small["is_running_sync"] is True and shown["is_running_sync"] is False


async def test_present_shows_the_integration_without_credentials(session: AsyncSession) -> None:
    integration = await factories.integration(session, created_at=T0, updated_at=T0, name="Acme")
    shown = service.present(integration, SMALL)
    assert (shown["id"], shown["name"]) == (integration.id, "Acme")
    assert shown["vendor"] == shown["integration_vendor"] == "RESMAN"
    assert shown["created_at"] == "2031-02-03T04:05:06.000Z"
    assert shown["is_archived"] is False and shown["last_completed_sync"] is None
    assert not any("credential" in key for key in shown)
    assert "sealed" not in repr(shown)
    integration.deleted_at = T0
    assert service.present(integration, SMALL)["is_archived"] is True


async def test_list_integrations_scopes_before_counting_and_paging(session: AsyncSession) -> None:
    first = await factories.integration(session, created_at=T0)
    second = await factories.integration(session, created_at=T0.replace(hour=5))
    deleted = await factories.integration(session, created_at=T0.replace(hour=6), deleted_at=T0)
    # Newer than every allowed one: paging before scoping would return it.
    await factories.integration(session, created_at=T0.replace(hour=7))
    await factories.job(session, integration_id=first.id)
    key = factories.principal("admin", integrations={first.id, second.id, deleted.id, new_id()})
    page = await service.list_integrations(session, key, _newest_first(1), SMALL)
    assert page["meta"]["total"] == 2 and page["meta"]["hasMore"] is True
    assert [row["id"] for row in page["results"]] == [second.id]
    assert page["results"][0]["is_running_sync"] is False
    assert list(page["results"][0]["models"]) == ["properties", "leases"]
    rest = await service.list_integrations(session, key, _newest_first(1, 1), SMALL)
    assert [row["id"] for row in rest["results"]] == [first.id]
    assert rest["results"][0]["is_running_sync"] is True
    assert rest["meta"]["hasMore"] is False


async def test_list_integrations_of_an_unlimited_key(session: AsyncSession) -> None:
    mine = await factories.integration(session)
    deleted = await factories.integration(session, deleted_at=T0)
    listed = await service.list_integrations(
        session, factories.principal("admin"), _newest_first(250), SMALL
    )
    ids = {row["id"] for row in listed["results"]}
    assert mine.id in ids and deleted.id not in ids
    assert listed["meta"]["total"] >= 1


async def test_integration_for_admin_is_404_when_absent_403_when_outside(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    deleted = await factories.integration(session, deleted_at=T0)
    insider = factories.principal("admin", integrations={integration.id, deleted.id})
    outsider = factories.principal("admin", integrations={new_id()})
    assert await service.integration_for_admin(session, insider, integration.id) is integration
    assert await service.integration_for_admin(session, factories.principal(), integration.id)
    for who, which, status in (
        (insider, new_id(), 404),
        (insider, deleted.id, 404),
        (outsider, deleted.id, 404),  # absent comes before outside
        (outsider, integration.id, 403),
    ):
        with pytest.raises(ApiError) as refused:
            await service.integration_for_admin(session, who, which)
        assert refused.value.status == status


async def test_present_one_says_whether_a_sync_is_running(session: AsyncSession) -> None:
    busy, idle = await factories.integration(session), await factories.integration(session)
    await factories.job(session, integration_id=busy.id, state="running")
    await factories.job(session, integration_id=idle.id, state="succeeded")
    assert (await service.present_one(session, busy, SMALL))["is_running_sync"] is True
    assert (await service.present_one(session, idle, SMALL))["is_running_sync"] is False


@pytest.mark.parametrize(("last_auth_ok", "shown"), [(None, True), (True, True), (False, False)])
async def test_can_authenticate_is_the_last_answer_and_true_before_any(
    session: AsyncSession, last_auth_ok: bool | None, shown: bool
) -> None:
    integration = await factories.integration(session, last_auth_ok=last_auth_ok)
    assert service.present(integration, SMALL)["can_authenticate"] is shown
    listed = await service.list_integrations(
        session,
        factories.principal("admin", integrations={integration.id}),
        _newest_first(1),
        SMALL,
    )
    assert listed["results"][0]["can_authenticate"] is shown


CIPHER = CredentialCipher(StaticKeyProvider(b"k" * 32))
GUARDS = service.Guards(OutboundPolicy.parse(""), 900)
CREDENTIALS = {"integrationPartnerId": "1000", "accountId": "400", "apiKey": "key"}


async def test_new_credentials_are_untried_other_changes_keep_the_answer(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session, last_auth_ok=False, last_auth_at=T0)
    rename = IntegrationUpdate.model_validate({"name": "Renamed"})
    await service.update_integration(session, CIPHER, integration, rename, None, GUARDS)
    assert (integration.last_auth_ok, integration.last_auth_at) == (False, T0)
    rekey = IntegrationUpdate.model_validate({"credentials": CREDENTIALS})
    await service.update_integration(session, CIPHER, integration, rekey, None, GUARDS)
    assert (integration.last_auth_ok, integration.last_auth_at) == (None, None)
    assert service.present(integration, SMALL)["can_authenticate"] is True


async def _sync_job(session: AsyncSession, integration_id: str, lease: datetime) -> Job:
    return await factories.job(
        session,
        integration_id=integration_id,
        state="running",
        attempt=1,
        concurrency_key=f"{JobKind.SYNC}:{integration_id}",
        lease_expires_at=lease,
    )


async def test_a_manual_sync_takes_over_one_whose_worker_is_gone(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    dead = await _sync_job(session, integration.id, utcnow() - timedelta(hours=1))
    run = SyncRun(integration_id=integration.id, job_id=dead.id, models=[])
    session.add(run)
    await session.flush()
    queued = await service.request_sync(session, integration, ["properties"])
    assert queued.id != dead.id
    assert (queued.state, queued.payload) == ("queued", {"models": ["properties"]})
    for row in (dead, run):
        await session.refresh(row)
    assert (dead.state, dead.last_error) == ("failed", WORKER_STOPPED)
    assert (run.state, run.error) == ("failed", WORKER_STOPPED)
    # Asked again: the new one, still queued.
    assert (await service.request_sync(session, integration, None)).id == queued.id


async def test_a_manual_sync_returns_one_whose_worker_is_alive(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    alive = await _sync_job(session, integration.id, utcnow() + timedelta(hours=1))
    assert (await service.request_sync(session, integration, None)).id == alive.id
    jobs = await session.execute(select(Job.state).where(Job.integration_id == integration.id))
    assert jobs.scalars().all() == ["running"]
