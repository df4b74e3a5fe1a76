"""The sync repository on a real database: stored rows by natural key, rows by PMS id with the
links they resolve, and the values a DATA_UPDATE reports as previous."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.connectors.base import RecordData
from propbridge.db.ids import new_id
from propbridge.residents.models import Lease, Property
from propbridge.sync import repository
from propbridge.sync.repository import Stored
from tests import factories

T0 = datetime(2031, 9, 10, 11, 12, 13, tzinfo=UTC)


def _on(x_property_id: str) -> RecordData:
    """A record of a property (what `linked` reads of it)."""
    return RecordData("resident_charges", new_id(), x_property_id, {}, {})


async def test_existing_rows_are_the_integrations_by_natural_key(session: AsyncSession) -> None:
    integration, other = await factories.integration(session), await factories.integration(session)
    at = await factories.property_(session, integration, x_id="P-1")
    lease = await factories.lease(session, at, x_id="L-1", last_seen=T0, created_at=T0)
    there = await factories.property_(session, other, x_id="P-1")
    await factories.lease(session, there, x_id="L-2")
    keys = [("P-1", "L-1"), ("P-1", "L-1"), ("P-1", "L-2"), ("P-1", "missing"), ("P-0", "L-1")]
    found = await repository.existing_rows(session, Lease, integration.id, keys)
    assert found == {("P-1", "L-1"): Stored(lease.id, lease.content_hash, T0, T0)}
    assert await repository.existing_rows(session, Lease, integration.id, []) == {}


async def test_existing_rows_reads_past_one_chunk(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration, x_id="P-1")
    # Sorted, the asked ids put the first lease in the first chunk and the last in the second.
    first = await factories.lease(session, at, x_id="a")
    last = await factories.lease(session, at, x_id="z")
    asked = ["a", *(f"m{n:04d}" for n in range(repository.IN_CHUNK)), "z"]
    found = await repository.existing_rows(
        session, Lease, integration.id, [("P-1", x_id) for x_id in asked]
    )
    assert {key: row.id for key, row in found.items()} == {
        ("P-1", "a"): first.id,
        ("P-1", "z"): last.id,
    }


async def test_existing_properties_are_found_by_their_own_id(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration, x_id="P-1")
    found = await repository.existing_rows(session, Property, integration.id, [("P-1", "P-1")])
    assert list(found) == [("P-1", "P-1")] and found[("P-1", "P-1")].id == at.id


async def test_rows_by_pms_id_and_the_links_they_resolve(session: AsyncSession) -> None:
    integration, other = await factories.integration(session), await factories.integration(session)
    one = await factories.property_(session, integration, x_id="P-1")
    two = await factories.property_(session, integration, x_id="P-2")
    three = await factories.property_(session, integration, x_id="P-3")
    first = await factories.lease(session, one, x_id="L-1", unit_number="101")
    second = await factories.lease(session, two, x_id="L-1", unit_number="202")
    await factories.lease(session, three, x_id="L-3")  # a property not asked
    elsewhere = await factories.property_(session, other, x_id="P-1")
    await factories.lease(session, elsewhere, x_id="L-9")  # another integration's
    found = await repository.rows_by_pms_id(
        session, integration.id, ["P-2", "P-1", "P-1"], Lease.x_id, Lease.id, Lease.unit_number
    )
    assert {key: tuple(row) for key, row in found.items()} == {
        ("P-1", "L-1"): (first.id, "101"),
        ("P-2", "L-1"): (second.id, "202"),
    }
    assert repository.linked(found, _on("P-1"), "L-1") == first.id
    assert repository.linked(found, _on("P-2"), "L-1", 1) == "202"
    assert repository.linked(found, _on("P-1"), "L-9") is None
    assert repository.linked(found, _on("P-3"), "L-3") is None
    assert repository.linked(found, _on("P-1"), None) is None


async def test_rows_by_pms_id_may_key_on_another_column(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration, x_id="P-1")
    lease = await factories.lease(session, at, unit_number="4B")
    found = await repository.rows_by_pms_id(
        session, integration.id, ["P-1"], Lease.unit_number, Lease.id
    )
    assert repository.linked(found, _on("P-1"), "4B") == lease.id


async def test_current_values_are_the_served_columns_of_the_rows_asked(
    session: AsyncSession,
) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration, city="Springfield", raw={"a": 1})
    other = await factories.property_(session, integration, city="Shelbyville")
    found = await repository.current_values(session, Property, [at.id, new_id()])
    assert list(found) == [at.id]
    values = found[at.id]
    assert (values["id"], values["city"], values["name"]) == (at.id, "Springfield", "Maple Court")
    assert values["integration_id"] == integration.id
    assert not {"raw", "content_hash", "document"} & set(values.keys())
    assert other.id not in found


async def test_current_values_reads_past_one_chunk(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    first = await factories.property_(session, integration)
    last = await factories.property_(session, integration)
    ids = [first.id, *(new_id() for _ in range(repository.IN_CHUNK)), last.id]
    assert set(await repository.current_values(session, Property, ids)) == {first.id, last.id}
