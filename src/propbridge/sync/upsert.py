"""Upserting synced records by natural key, writing nothing for records that did not change.

Database work for one page of records; the caller's transaction commits it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.documents import Render, render_document
from propbridge.api.records import served_columns
from propbridge.billing.models import ChargeCode, Fee, ResidentCharge, ResidentPayment
from propbridge.billing.presenters import (
    render_charge_code,
    render_fee,
    render_resident_charge,
    render_resident_payment,
)
from propbridge.connectors.base import RecordData
from propbridge.db.base import isoformat_z
from propbridge.db.ids import new_id
from propbridge.db.table_versions import bump_table_versions
from propbridge.residents.models import Lease, Property, Resident, ResidentLease
from propbridge.residents.presenters import render_property
from propbridge.sync.bulk_insert import insert_rows
from propbridge.units.models import FloorPlan, Unit
from propbridge.units.presenters import render_floor_plan, render_unit
from propbridge.webhooks.events import Event, Listener, emit, listeners
from propbridge.writes.reconcile import reconcile

# In upsert order: within a page, parents before children, so links resolve.
MODEL_TABLES: dict[str, Any] = {
    "properties": Property,
    "charge_codes": ChargeCode,
    "floor_plans": FloorPlan,
    "units": Unit,
    "leases": Lease,
    "residents": Resident,
    "resident_charges": ResidentCharge,
    "resident_payments": ResidentPayment,
    "fees": Fee,
}
# Models whose served object is stored as a document when the record is written (the others,
# residents and leases, also show their links and are presented when read).
RENDERERS: dict[Any, Render] = {
    Property: render_property,
    ChargeCode: render_charge_code,
    FloorPlan: render_floor_plan,
    Unit: render_unit,
    ResidentCharge: render_resident_charge,
    ResidentPayment: render_resident_payment,
    Fee: render_fee,
}
IN_CHUNK = 500

NaturalKey = tuple[str, str]  # (x_property_id, x_id)
LINKED_MODELS = ("resident_charges", "resident_payments")
# `last_seen` is kept to this precision, so that an unchanged re-sync soon after another writes
# nothing at all; a record seen again later gets its new `last_seen`.
LAST_SEEN_RESOLUTION = timedelta(hours=1)


@dataclass
class ModelCounts:
    """What one sync did to one model."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: ModelCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class PageResult:
    """Counts per model, our ids for the natural keys written, and writes reconciled."""

    counts: dict[str, ModelCounts] = field(default_factory=dict)
    ids: dict[str, dict[NaturalKey, str]] = field(default_factory=dict)
    reconciled: int = 0


def content_hash(values: dict[str, Any]) -> str:
    """A stable digest of a record's normalised fields and raw payload (decimals as text)."""
    return hashlib.sha256(
        orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str)
    ).hexdigest()


class Stored(NamedTuple):
    """What the upsert needs of a row already stored."""

    id: str
    content_hash: str
    last_seen: datetime | None
    created_at: datetime


async def existing_rows(
    session: AsyncSession, table: Any, integration_id: str, keys: list[NaturalKey]
) -> dict[NaturalKey, Stored]:
    """The stored rows of these natural keys."""
    found: dict[NaturalKey, Stored] = {}
    by_property: dict[str, list[str]] = {}
    for x_property_id, x_id in set(keys):
        by_property.setdefault(x_property_id, []).append(x_id)
    # The whole natural key in the WHERE clause, so the unique index answers each lookup.
    for x_property_id, x_ids in by_property.items():
        # A property seen for the first time (a first sync's pages) has nothing to look up.
        scope = (table.integration_id == integration_id, table.x_property_id == x_property_id)
        if (await session.execute(select(table.id).where(*scope).limit(1))).first() is None:
            continue
        x_ids.sort()
        for start in range(0, len(x_ids), IN_CHUNK):
            rows = await session.execute(
                select(
                    table.x_id, table.id, table.content_hash, table.last_seen, table.created_at
                ).where(*scope, table.x_id.in_(x_ids[start : start + IN_CHUNK]))
            )
            for x_id, *stored in rows:
                found[(x_property_id, x_id)] = Stored(*stored)
    return found


async def property_ids(session: AsyncSession, integration_id: str) -> dict[str, str]:
    """Our property id for each PMS property id of an integration."""
    rows = await session.execute(
        select(Property.x_id, Property.id).where(Property.integration_id == integration_id)
    )
    return {x_id: row_id for x_id, row_id in rows}


async def upsert_page(
    session: AsyncSession,
    integration_id: str,
    vendor: str,
    records: list[RecordData],
    seen_at: datetime,
    notify: bool = False,
) -> PageResult:
    """Write one page: insert new records, update changed ones, stamp `last_seen` on all.

    With `notify` (any sync but an integration's first), new and changed records become
    DATA_NEW / DATA_UPDATE webhook events in the same transaction, for whoever listens."""
    result = PageResult()
    by_model: dict[str, list[RecordData]] = {}
    for record in records:
        by_model.setdefault(record.model, []).append(record)
    properties: dict[str, str] | None = None
    changed_tables: set[str] = set()
    hooks = await listeners(session) if notify else []
    for model in MODEL_TABLES:
        batch = by_model.get(model)
        if not batch:
            continue
        table = MODEL_TABLES[model]
        if model != "properties" and properties is None:
            properties = await property_ids(session, integration_id)
        resolve = LINK_RESOLVERS.get(model)
        if resolve is not None:
            await resolve(session, integration_id, batch)
        counts, ids, wrote = await _upsert_model(
            session, table, integration_id, vendor, batch, properties or {}, seen_at, hooks
        )
        if wrote:
            changed_tables.add(table.__tablename__)
        result.counts[model] = counts
        result.ids[model] = ids
        if model == "properties":
            properties = None
    found = [
        (model, result.ids[model][(r.x_property_id, r.x_id)], r.fields)
        for model in LINKED_MODELS
        for r in by_model.get(model, [])
        if (r.x_property_id, r.x_id) in result.ids.get(model, {})
    ]
    if found:
        result.reconciled = await reconcile(session, integration_id, found)
    if "residents" in by_model and await _link_residents(
        session,
        integration_id,
        by_model["residents"],
        result.ids.get("residents", {}),
        result.ids.get("leases", {}),
    ):
        changed_tables |= {"residents", "leases"}
    await bump_table_versions(session, changed_tables)
    return result


async def _by_x_id(
    session: AsyncSession,
    integration_id: str,
    batch: list[RecordData],
    key: Any,
    *columns: Any,
) -> dict[NaturalKey, Any]:
    """Rows of one model in the batch's properties, by (PMS property id, `key` column)."""
    model = key.class_
    found: dict[NaturalKey, Any] = {}
    for x_property_id in sorted({r.x_property_id for r in batch}):
        rows = await session.execute(
            select(key, *columns).where(
                model.integration_id == integration_id, model.x_property_id == x_property_id
            )
        )
        for value, *rest in rows:
            found[(x_property_id, value)] = rest
    return found


def _link(
    found: dict[NaturalKey, Any], record: RecordData, name: str | None, index: int = 0
) -> Any:
    row = found.get((record.x_property_id, name or ""))
    return None if row is None else row[index]


async def _resolve_ledger_links(
    session: AsyncSession, integration_id: str, batch: list[RecordData]
) -> None:
    """A ledger transaction's lease, unit, resident and charge code, by their PMS ids."""
    leases = await _by_x_id(
        session, integration_id, batch, Lease.x_id, Lease.id, Lease.x_unit_id, Lease.unit_id
    )
    residents = await _by_x_id(session, integration_id, batch, Resident.x_id, Resident.id)
    codes = await _by_x_id(session, integration_id, batch, ChargeCode.x_id, ChargeCode.id)
    for record in batch:
        lease = record.links.get("lease")
        record.fields["lease_id"] = _link(leases, record, lease)
        record.fields["x_unit_id"] = _link(leases, record, lease, 1)
        record.fields["unit_id"] = _link(leases, record, lease, 2)
        record.fields["resident_id"] = _link(residents, record, record.links.get("resident"))
        record.fields["charge_code_id"] = _link(codes, record, record.links.get("charge_code"))


async def _resolve_fee_links(
    session: AsyncSession, integration_id: str, batch: list[RecordData]
) -> None:
    """A fee names its charge code by abbreviation and its floor plan by code."""
    codes = await _by_x_id(
        session,
        integration_id,
        batch,
        ChargeCode.code,
        ChargeCode.id,
        ChargeCode.x_id,
        ChargeCode.name,
    )
    plans = await _by_x_id(session, integration_id, batch, FloorPlan.x_id, FloorPlan.id)
    for record in batch:
        code = record.links.get("charge_code_code")
        record.fields["charge_code_id"] = _link(codes, record, code)
        record.fields["x_charge_code_id"] = _link(codes, record, code, 1)
        record.fields["charge_code_name"] = _link(codes, record, code, 2)
        record.fields["floor_plan_id"] = _link(plans, record, record.fields.get("x_floor_plan_id"))


async def _resolve_unit_links(
    session: AsyncSession, integration_id: str, batch: list[RecordData]
) -> None:
    """A unit's floor plan, by code; a unit has its floor plan's rooms (ResMan gives them per
    unit type, not per unit)."""
    plans = await _by_x_id(
        session,
        integration_id,
        batch,
        FloorPlan.x_id,
        FloorPlan.id,
        FloorPlan.name,
        FloorPlan.bedrooms,
        FloorPlan.bathrooms,
    )
    for record in batch:
        plan = record.links.get("floor_plan")
        record.fields["floor_plan_id"] = _link(plans, record, plan)
        record.fields["floor_plan_name"] = _link(plans, record, plan, 1)
        bedrooms = _link(plans, record, plan, 2)
        record.fields["bedrooms"] = None if bedrooms is None else str(bedrooms)
        record.fields["bathrooms"] = _link(plans, record, plan, 3)


async def _resolve_lease_links(
    session: AsyncSession, integration_id: str, batch: list[RecordData]
) -> None:
    """A lease's unit, by the PMS unit id (residents on the page need nothing)."""
    leases = [r for r in batch if r.model == "leases"]
    units = await _by_x_id(session, integration_id, leases, Unit.x_id, Unit.id)
    for record in leases:
        x_unit = record.fields.get("x_unit_id")
        record.fields["unit_id"] = _link(units, record, x_unit.lower() if x_unit else None)


LINK_RESOLVERS = {
    "units": _resolve_unit_links,
    "leases": _resolve_lease_links,
    "resident_charges": _resolve_ledger_links,
    "resident_payments": _resolve_ledger_links,
    "fees": _resolve_fee_links,
}


async def _upsert_model(
    session: AsyncSession,
    table: Any,
    integration_id: str,
    vendor: str,
    batch: list[RecordData],
    properties: dict[str, str],
    seen_at: datetime,
    hooks: list[Listener],
) -> tuple[ModelCounts, dict[NaturalKey, str], bool]:
    counts = ModelCounts()
    deduped = {(r.x_property_id, r.x_id): r for r in batch}
    existing = await existing_rows(session, table, integration_id, list(deduped))
    inserts, updates, unchanged_ids = [], [], []
    ids: dict[NaturalKey, str] = {}
    has_property_column = "property_id" in table.__table__.columns
    render = RENDERERS.get(table)
    for key, record in deduped.items():
        values = dict(record.fields)
        if has_property_column:
            property_id = properties.get(record.x_property_id)
            if property_id is None:
                continue  # its property is not synced (yet); the next sync picks it up
            values["property_id"] = property_id
        raw = record.raw
        digest = content_hash({"fields": values, "raw": raw})
        current = existing.get(key)
        if current is not None and current.content_hash == digest:
            row_id = current.id
            if current.last_seen is None or current.last_seen < seen_at - LAST_SEEN_RESOLUTION:
                unchanged_ids.append(row_id)
            counts.unchanged += 1
            ids[key] = row_id
            continue
        row_id = new_id() if current is None else current.id
        row = {
            **values,
            "id": row_id,
            "integration_id": integration_id,
            "integration_vendor": vendor,
            "x_id": record.x_id,
            "x_property_id": record.x_property_id,
            "raw": raw,
            "content_hash": digest,
            "last_seen": seen_at,
            "created_at": seen_at if current is None else current.created_at,
            "updated_at": seen_at,
        }
        if render is not None:
            row["document"] = render_document(render, row)
        if current is None:
            inserts.append(row)
            counts.new += 1
        else:
            updates.append(row)
            counts.updated += 1
        ids[key] = row_id
    events = await _data_events(session, table, integration_id, vendor, inserts, updates, hooks)
    if inserts:
        await insert_rows(await session.connection(), table.__table__, inserts)
    if updates:
        await session.execute(update(table), updates)
    await emit(session, events, hooks)
    for start in range(0, len(unchanged_ids), IN_CHUNK):
        await session.execute(
            update(table)
            .where(table.id.in_(unchanged_ids[start : start + IN_CHUNK]))
            .values(last_seen=seen_at)
            .execution_options(synchronize_session=False)
        )
    return counts, ids, bool(inserts or updates or unchanged_ids)


async def _link_residents(
    session: AsyncSession,
    integration_id: str,
    residents: list[RecordData],
    resident_ids: dict[NaturalKey, str],
    lease_ids: dict[NaturalKey, str],
) -> bool:
    """Keep `residents_to_leases` in step with the leases each resident was seen on.

    Returns True when a link was added or changed."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    missing_leases = {
        (r.x_property_id, link["lease_x_id"])
        for r in residents
        for link in r.links.get("leases", [])
    } - set(lease_ids)
    if missing_leases:
        lease_ids = {
            **lease_ids,
            **{
                k: v.id
                for k, v in (
                    await existing_rows(session, Lease, integration_id, list(missing_leases))
                ).items()
            },
        }
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
        rows = await session.execute(
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
        await session.execute(insert(ResidentLease), new_rows)
    return changed or bool(new_rows)


# Not part of what a DATA_UPDATE reports: bookkeeping, not the record's data.
UNREPORTED = frozenset({"created_at", "updated_at", "last_seen", "custom_data"})


def _public(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    render = RENDERERS.get(table)
    if render is not None:
        return render(row)
    return {
        column.key: isoformat_z(value) if isinstance(value, datetime) else value
        for column in served_columns(table)
        for value in (row.get(column.key),)
    }


async def _data_events(
    session: AsyncSession,
    table: Any,
    integration_id: str,
    vendor: str,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    hooks: list[Listener],
) -> list[Event]:
    """DATA_NEW for new records, DATA_UPDATE (changed fields, before and after) for changed
    ones; built only when a webhook listens for this model."""
    name = table.__tablename__
    hear_new = any(h.hears("DATA_NEW", integration_id, name) for h in hooks)
    hear_update = any(h.hears("DATA_UPDATE", integration_id, name) for h in hooks)
    common = {"object": name, "integration_id": integration_id, "vendor": vendor}
    meta = {"integration_id": integration_id, "object": name}
    events = []
    if hear_new:
        events += [
            Event(
                "DATA_NEW",
                integration_id,
                {
                    "event": "DATA_NEW",
                    **common,
                    "record_id": row["id"],
                    "meta": meta,
                    "payload": _public(table, row),
                },
                name,
                row["id"],
            )
            for row in inserts
        ]
    if hear_update and updates:
        keys = [c.key for c in served_columns(table) if c.key not in UNREPORTED]
        previous: dict[str, Any] = {}
        ids = [row["id"] for row in updates]
        for start in range(0, len(ids), IN_CHUNK):
            for old in await session.execute(
                select(*served_columns(table)).where(table.id.in_(ids[start : start + IN_CHUNK]))
            ):
                previous[old.id] = old._mapping
        for row in updates:
            old = previous.get(row["id"], {})
            changed = [k for k in keys if old.get(k) != row.get(k)]
            if not changed:
                continue
            events.append(
                Event(
                    "DATA_UPDATE",
                    integration_id,
                    {
                        "event": "DATA_UPDATE",
                        **common,
                        "record_id": row["id"],
                        "meta": meta,
                        "diff": {
                            "previous": {k: old.get(k) for k in changed},
                            "new": {k: row.get(k) for k in changed},
                        },
                    },
                    name,
                    row["id"],
                )
            )
    return events
