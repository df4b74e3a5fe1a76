"""Upserting one page of synced records by natural key, writing nothing for records that did
not change, and the DATA_NEW / DATA_UPDATE events of those that did.

Logic over the sync repository; the caller's transaction commits it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.connectors.base import RecordData
from propbridge.db.base import isoformat_z
from propbridge.db.ids import new_id
from propbridge.db.synced import render_document, served_columns
from propbridge.db.table_versions import bump_table_versions
from propbridge.sync import repository
from propbridge.sync.registry import SyncedModel, SyncedModels
from propbridge.sync.repository import NaturalKey
from propbridge.webhooks.events import Event, Listener, emit, listeners
from propbridge.writes.reconcile import reconcile

# `last_seen` is kept to this precision, so that an unchanged re-sync soon after another writes
# nothing at all; a record seen again later gets its new `last_seen`.
LAST_SEEN_RESOLUTION = timedelta(hours=1)
# Not part of what a DATA_UPDATE reports: bookkeeping, not the record's data.
UNREPORTED = frozenset({"created_at", "updated_at", "last_seen", "custom_data"})


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


@dataclass
class Page:
    """Where a page's records go and what is known of its integration."""

    integration_id: str
    vendor: str
    seen_at: datetime
    hooks: list[Listener]
    # Our property id per PMS property id: read when a model first needs it, and again after
    # this page has written properties.
    properties: dict[str, str] | None = None


async def upsert_page(
    session: AsyncSession,
    models: SyncedModels,
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
    changed_tables: set[str] = set()
    hooks = await listeners(session) if notify else []
    page = Page(integration_id, vendor, seen_at, hooks)
    properties_table = models["properties"].table
    for model in models:
        batch = by_model.get(model.name)
        if not batch:
            continue
        if model.table is not properties_table and page.properties is None:
            page.properties = await repository.ids_by_pms_id(
                session, properties_table, integration_id
            )
        if model.resolve_links is not None:
            await model.resolve_links(session, integration_id, batch)
        counts, ids, wrote = await _upsert_model(session, model, page, batch)
        if wrote:
            changed_tables.add(model.table.__tablename__)
        result.counts[model.name] = counts
        result.ids[model.name] = ids
        if model.table is properties_table:
            page.properties = None
    found = [
        (model.name, result.ids[model.name][(r.x_property_id, r.x_id)], r.fields)
        for model in models
        if model.reconciles
        for r in by_model.get(model.name, [])
        if (r.x_property_id, r.x_id) in result.ids.get(model.name, {})
    ]
    if found:
        result.reconciled = await reconcile(session, integration_id, found)
    for model in models:
        batch = by_model.get(model.name)
        after = model.after_write
        if batch and after is not None and await after(session, integration_id, batch, result.ids):
            changed_tables |= set(model.after_write_tables)
    await bump_table_versions(session, changed_tables)
    return result


def _row(
    model: SyncedModel,
    page: Page,
    record: RecordData,
    values: dict[str, Any],
    digest: str,
    current: repository.Stored | None,
) -> dict[str, Any]:
    """A record's row as written (with its stored document)."""
    row = {
        **values,
        "id": new_id() if current is None else current.id,
        "integration_id": page.integration_id,
        "integration_vendor": page.vendor,
        "x_id": record.x_id,
        "x_property_id": record.x_property_id,
        "raw": record.raw,
        "content_hash": digest,
        "last_seen": page.seen_at,
        "created_at": page.seen_at if current is None else current.created_at,
        "updated_at": page.seen_at,
    }
    if model.render is not None:
        row["document"] = render_document(model.render, row)
    return row


async def _upsert_model(
    session: AsyncSession, model: SyncedModel, page: Page, batch: list[RecordData]
) -> tuple[ModelCounts, dict[NaturalKey, str], bool]:
    counts = ModelCounts()
    deduped = {(r.x_property_id, r.x_id): r for r in batch}
    existing = await repository.existing_rows(
        session, model.table, page.integration_id, list(deduped)
    )
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged_ids: list[str] = []
    ids: dict[NaturalKey, str] = {}
    has_property_column = "property_id" in model.table.__table__.columns
    for key, record in deduped.items():
        values = dict(record.fields)
        if has_property_column:
            property_id = (page.properties or {}).get(record.x_property_id)
            if property_id is None:
                continue  # its property is not synced (yet); the next sync picks it up
            values["property_id"] = property_id
        digest = content_hash({"fields": values, "raw": record.raw})
        current = existing.get(key)
        if current is not None and current.content_hash == digest:
            if current.last_seen is None or current.last_seen < page.seen_at - LAST_SEEN_RESOLUTION:
                unchanged_ids.append(current.id)
            counts.unchanged += 1
            ids[key] = current.id
            continue
        row = _row(model, page, record, values, digest, current)
        (inserts if current is None else updates).append(row)
        if current is None:
            counts.new += 1
        else:
            counts.updated += 1
        ids[key] = row["id"]
    events = await _data_events(session, model, page, inserts, updates)
    await repository.write_page(session, model.table, inserts, updates, unchanged_ids, page.seen_at)
    await emit(session, events, page.hooks)
    return counts, ids, bool(inserts or updates or unchanged_ids)


def _public(model: SyncedModel, row: dict[str, Any]) -> dict[str, Any]:
    if model.render is not None:
        return model.render(row)
    return {
        column.key: isoformat_z(value) if isinstance(value, datetime) else value
        for column in served_columns(model.table)
        for value in (row.get(column.key),)
    }


def _event(trigger: str, model: SyncedModel, page: Page, record_id: str, **body: Any) -> Event:
    name = model.event_model
    payload = {
        "event": trigger,
        "object": name,
        "integration_id": page.integration_id,
        "vendor": page.vendor,
        "record_id": record_id,
        "meta": {"integration_id": page.integration_id, "object": name},
        **body,
    }
    return Event(trigger, page.integration_id, payload, name, record_id)


async def _data_events(
    session: AsyncSession,
    model: SyncedModel,
    page: Page,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
) -> list[Event]:
    """DATA_NEW for new records, DATA_UPDATE (changed fields, before and after) for changed
    ones; built only when a webhook listens for this model."""
    name = model.event_model
    events = []
    if any(h.hears("DATA_NEW", page.integration_id, name) for h in page.hooks):
        events += [
            _event("DATA_NEW", model, page, row["id"], payload=_public(model, row))
            for row in inserts
        ]
    if updates and any(h.hears("DATA_UPDATE", page.integration_id, name) for h in page.hooks):
        keys = [c.key for c in served_columns(model.table) if c.key not in UNREPORTED]
        previous = await repository.current_values(
            session, model.table, [row["id"] for row in updates]
        )
        for row in updates:
            old = previous.get(row["id"], {})
            changed = [k for k in keys if old.get(k) != row.get(k)]
            if changed:
                diff = {
                    "previous": {k: old.get(k) for k in changed},
                    "new": {k: row.get(k) for k in changed},
                }
                events.append(_event("DATA_UPDATE", model, page, row["id"], diff=diff))
    return events
