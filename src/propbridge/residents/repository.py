"""Queries of properties, residents and leases beyond the shared record reads
(`api/records.py`): the resident-to-lease links, read for the `*_meta_data` arrays and kept in
step by the sync, and the links a page of synced leases resolves.

Never commits: the request or the sync's page transaction does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import insert, select

from propbridge.connectors.base import RecordData
from propbridge.db.engine import Executor
from propbridge.db.raw_reads import RecordQuery
from propbridge.residents.models import Lease, Resident, ResidentLease
from propbridge.sync.repository import (
    IN_CHUNK,
    NaturalKey,
    existing_rows,
    linked,
    rows_by_pms_id,
)
from propbridge.units.models import Unit


async def lease_links(db: Executor, column: Any, ids: list[str]) -> dict[str, list[Any]]:
    """Resident-to-lease links whose `column` (resident_id or lease_id) is one of `ids`."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    if ids:
        for link in await db.execute(
            select(*ResidentLease.__table__.columns)
            .where(column.in_(ids))
            .order_by(ResidentLease.id)
        ):
            grouped[getattr(link, column.key)].append(link)
    return grouped


def residents_of(query: RecordQuery, lease_id: str) -> None:
    """Only the residents on a lease (a residents listing's filter)."""
    query.linked(Resident.id, ResidentLease.resident_id, ResidentLease.lease_id, lease_id)


def leases_of(query: RecordQuery, resident_id: str) -> None:
    """Only a resident's leases (a leases listing's filter)."""
    query.linked(Lease.id, ResidentLease.lease_id, ResidentLease.resident_id, resident_id)


async def resolve_lease_links(db: Executor, integration_id: str, batch: list[RecordData]) -> None:
    """A lease's unit, by the PMS unit id."""
    units = await rows_by_pms_id(
        db, integration_id, [r.x_property_id for r in batch], Unit.x_id, Unit.id
    )
    for record in batch:
        x_unit = record.fields.get("x_unit_id")
        record.fields["unit_id"] = linked(units, record, x_unit.lower() if x_unit else None)


async def _lease_ids(
    db: Executor,
    integration_id: str,
    residents: list[RecordData],
    lease_ids: dict[NaturalKey, str],
) -> dict[NaturalKey, str]:
    """Our id of every lease the residents name: from the page, else from the store."""
    missing = {
        (r.x_property_id, link["lease_x_id"])
        for r in residents
        for link in r.links.get("leases", [])
    } - set(lease_ids)
    if not missing:
        return lease_ids
    stored = await existing_rows(db, Lease, integration_id, list(missing))
    return {**lease_ids, **{key: row.id for key, row in stored.items()}}


async def link_residents(
    db: Executor,
    integration_id: str,
    residents: list[RecordData],
    ids: dict[str, dict[NaturalKey, str]],
) -> bool:
    """Keep `residents_to_leases` in step with the leases each resident was seen on (`ids`: our
    ids of the page's records, by model). True when a link was added or changed."""
    resident_ids = ids.get("residents", {})
    lease_ids = await _lease_ids(db, integration_id, residents, ids.get("leases", {}))
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for record in residents:
        resident_id = resident_ids.get((record.x_property_id, record.x_id))
        for link in record.links.get("leases", []):
            lease_id = lease_ids.get((record.x_property_id, link["lease_x_id"]))
            if resident_id and lease_id:
                wanted[(resident_id, lease_id)] = {
                    k: v for k, v in link.items() if k != "lease_x_id"
                }
    if not wanted:
        return False
    current: dict[tuple[str, str], Any] = {}
    resident_list = sorted({r for r, _ in wanted})
    for start in range(0, len(resident_list), IN_CHUNK):
        rows = await db.execute(
            select(ResidentLease).where(
                ResidentLease.resident_id.in_(resident_list[start : start + IN_CHUNK])
            )
        )
        for link_row in rows.scalars():
            current[(link_row.resident_id, link_row.lease_id)] = link_row
    new_rows = []
    changed = False
    for (resident_id, lease_id), values in wanted.items():
        row = current.get((resident_id, lease_id))
        if row is None:
            new_rows.append({"resident_id": resident_id, "lease_id": lease_id, **values})
            continue
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
    if new_rows:
        await db.execute(insert(ResidentLease), new_rows)
    return changed or bool(new_rows)
