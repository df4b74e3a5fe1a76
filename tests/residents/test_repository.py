"""The resident-to-lease links: kept in step by the sync, read for the `*_meta_data` arrays."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.connectors.base import RecordData
from propbridge.residents import repository
from propbridge.residents.models import ResidentLease
from tests import factories


def _seen_on(resident_x_id: str, x_property_id: str, *leases: tuple[str, str]) -> RecordData:
    links = {"leases": [{"lease_x_id": x, "x_resident_type": kind} for x, kind in leases]}
    return RecordData("residents", resident_x_id, x_property_id, {}, {}, links)


async def test_links_are_added_then_changed_then_left_alone(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration)
    first, second = await factories.lease(session, at), await factories.lease(session, at)
    resident = await factories.resident(session, first)
    ids = {"residents": {(at.x_id, resident.x_id): resident.id}}
    record = _seen_on(resident.x_id, at.x_id, (first.x_id, "Primary"), (second.x_id, "Roommate"))
    assert await repository.link_residents(session, integration.id, [record], ids)
    links = await repository.lease_links(session, ResidentLease.resident_id, [resident.id])
    assert {(link.lease_id, link.x_resident_type) for link in links[resident.id]} == {
        (first.id, "Primary"),
        (second.id, "Roommate"),
    }
    changed = _seen_on(resident.x_id, at.x_id, (first.x_id, "Primary"), (second.x_id, "Guarantor"))
    assert await repository.link_residents(session, integration.id, [changed], ids)
    assert not await repository.link_residents(session, integration.id, [changed], ids)
    by_lease = await repository.lease_links(session, ResidentLease.lease_id, [second.id])
    assert [link.x_resident_type for link in by_lease[second.id]] == ["Guarantor"]


async def test_an_unknown_lease_makes_no_link(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration)
    resident = await factories.resident(session, await factories.lease(session, at))
    ids = {"residents": {(at.x_id, resident.x_id): resident.id}}
    record = _seen_on(resident.x_id, at.x_id, ("no-such-lease", "Primary"))
    assert not await repository.link_residents(session, integration.id, [record], ids)
    assert await repository.lease_links(session, ResidentLease.resident_id, []) == {}
