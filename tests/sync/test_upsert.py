"""Upserting a page of synced records with the real catalog: new, unchanged and changed records,
children whose property is not synced, the stored document, events and reconciliation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.billing.models import ChargeCode
from propbridge.catalog import SYNCED_MODELS
from propbridge.connectors.base import RecordData
from propbridge.db.table_versions import TableVersion
from propbridge.residents.models import Property
from propbridge.sync.upsert import ModelCounts, PageResult, upsert_page
from propbridge.webhooks.models import WebhookEvent
from propbridge.writes.models import WriteItem
from tests import factories

T0 = datetime(2031, 7, 8, 9, 0, 0, tzinfo=UTC)


def _property(x_id: str = "P-1", **fields: Any) -> RecordData:
    values = {"name": "Maple Court", "city": "Springfield", **fields}
    return RecordData("properties", x_id, x_id, values, {"PropertyID": x_id})


def _code(x_property_id: str = "P-1", x_id: str = "CC-1") -> RecordData:
    fields = {"code": "RENT", "category_type": "Charge", "name": "Rent"}
    return RecordData("charge_codes", x_id, x_property_id, fields, {"Abbreviation": "RENT"})


async def _upsert(
    session: AsyncSession,
    integration_id: str,
    records: list[RecordData],
    at: datetime = T0,
    notify: bool = False,
) -> PageResult:
    return await upsert_page(
        session, SYNCED_MODELS, integration_id, "RESMAN", records, at, notify=notify
    )


async def _stored_property(session: AsyncSession, integration_id: str, x_id: str) -> Property:
    found = await session.execute(
        select(Property)
        .where(Property.integration_id == integration_id, Property.x_id == x_id)
        .execution_options(populate_existing=True)
    )
    return found.scalar_one()


async def _version(session: AsyncSession, table: str) -> int:
    found = await session.execute(
        select(TableVersion.version).where(TableVersion.table_name == table)
    )
    return found.scalar() or 0


async def test_a_first_page_inserts_parents_before_children(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    # Children first in the page: the catalog's order still writes the property first.
    result = await _upsert(session, integration.id, [_code(), _property(), _property()])
    assert result.counts["properties"] == ModelCounts(new=1)
    assert result.counts["charge_codes"] == ModelCounts(new=1)
    stored = await _stored_property(session, integration.id, "P-1")
    assert result.ids["properties"] == {("P-1", "P-1"): stored.id}
    assert (stored.name, stored.city, stored.x_property_id) == ("Maple Court", "Springfield", "P-1")
    assert (stored.integration_vendor, stored.raw) == ("RESMAN", {"PropertyID": "P-1"})
    assert stored.created_at == stored.updated_at == stored.last_seen == T0
    assert len(stored.content_hash) == 64
    code = await session.get(ChargeCode, result.ids["charge_codes"][("P-1", "CC-1")])
    assert code is not None and code.property_id == stored.id and code.code == "RENT"


async def test_the_same_page_again_is_unchanged_and_writes_nothing(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    first = await _upsert(session, integration.id, [_property(), _code()])
    before = await _version(session, "properties")
    again = await _upsert(
        session, integration.id, [_property(), _code()], T0 + timedelta(minutes=10)
    )
    assert again.counts["properties"] == ModelCounts(unchanged=1)
    assert again.counts["charge_codes"] == ModelCounts(unchanged=1)
    assert again.ids == first.ids
    stored = await _stored_property(session, integration.id, "P-1")
    assert stored.updated_at == stored.last_seen == T0
    assert await _version(session, "properties") == before
    count = (
        select(func.count()).select_from(Property).where(Property.integration_id == integration.id)
    )
    assert (await session.execute(count)).scalar_one() == 1


async def test_a_record_seen_again_much_later_gets_its_last_seen(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    await _upsert(session, integration.id, [_property()])
    later = T0 + timedelta(hours=2)
    again = await _upsert(session, integration.id, [_property()], later)
    assert again.counts["properties"] == ModelCounts(unchanged=1)
    stored = await _stored_property(session, integration.id, "P-1")
    assert (stored.last_seen, stored.updated_at) == (later, T0)


async def test_a_changed_field_counts_as_updated(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    await _upsert(session, integration.id, [_property(), _property("P-2")])
    original = await _stored_property(session, integration.id, "P-1")
    original_id, original_hash = original.id, original.content_hash
    later = T0 + timedelta(minutes=5)
    changed = [_property(city="Shelbyville"), _property("P-2")]
    result = await _upsert(session, integration.id, changed, later)
    assert result.counts["properties"] == ModelCounts(updated=1, unchanged=1)
    stored = await _stored_property(session, integration.id, "P-1")
    assert (stored.id, stored.city) == (original_id, "Shelbyville")
    assert (stored.created_at, stored.updated_at, stored.last_seen) == (T0, later, later)
    assert stored.content_hash != original_hash
    assert json.loads(str(stored.document))["city"] == "Shelbyville"


async def test_a_changed_raw_payload_alone_counts_as_updated(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    await _upsert(session, integration.id, [_property()])
    record = _property()
    record.raw = {"PropertyID": "P-1", "Extra": "now present"}
    result = await _upsert(session, integration.id, [record], T0 + timedelta(minutes=1))
    assert result.counts["properties"] == ModelCounts(updated=1)


async def test_a_charge_code_without_its_property_is_skipped(session: AsyncSession) -> None:
    integration, other = await factories.integration(session), await factories.integration(session)
    # The same PMS property id synced for another integration does not count.
    await factories.property_(session, other, x_id="P-9")
    result = await _upsert(session, integration.id, [_code("P-9")])
    assert result.counts["charge_codes"] == ModelCounts()
    assert result.ids["charge_codes"] == {}
    stored = await session.execute(
        select(ChargeCode.id).where(ChargeCode.integration_id == integration.id)
    )
    assert stored.first() is None
    # Once the property is synced, the same record goes in.
    later = await _upsert(session, integration.id, [_property("P-9"), _code("P-9")])
    assert later.counts["charge_codes"] == ModelCounts(new=1)


async def test_the_stored_document_is_the_rendered_object(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    result = await _upsert(session, integration.id, [_property(), _code()])
    stored = await _stored_property(session, integration.id, "P-1")
    assert isinstance(stored.document, str)
    document = json.loads(stored.document)
    assert document["id"] == stored.id and document["property_id"] == stored.id
    assert (document["name"], document["x_id"]) == ("Maple Court", "P-1")
    assert (document["integration_id"], document["integration_vendor"]) == (
        integration.id,
        "RESMAN",
    )
    assert document["created_at"] == "2031-07-08T09:00:00.000Z"
    assert "last_seen" not in document and "raw" not in document
    code = await session.get(ChargeCode, result.ids["charge_codes"][("P-1", "CC-1")])
    assert code is not None and code.document is not None
    code_document = json.loads(code.document)
    assert (code_document["code"], code_document["category_type"]) == ("RENT", "Charge")
    assert code_document["property_id"] == stored.id


async def test_notified_pages_report_new_and_changed_records(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    triggers = [
        {"id": "n", "trigger": "DATA_NEW", "model": "properties"},
        {"id": "u", "trigger": "DATA_UPDATE", "model": "properties"},
    ]
    await factories.webhook(session, triggers=triggers, integration_ids=[integration.id])
    first = await _upsert(session, integration.id, [_property()], notify=True)
    record_id = first.ids["properties"][("P-1", "P-1")]
    changed = [_property(city="Shelbyville")]
    await _upsert(session, integration.id, changed, T0 + timedelta(minutes=1), notify=True)
    await _upsert(session, integration.id, changed, T0 + timedelta(minutes=2), notify=True)
    events = (
        await session.execute(
            select(WebhookEvent)
            .where(WebhookEvent.integration_id == integration.id)
            .order_by(WebhookEvent.created_at, WebhookEvent.id)
        )
    ).scalars()
    new, update = list(events)
    assert (new.trigger, new.record_id, new.model) == ("DATA_NEW", record_id, "properties")
    assert new.payload["payload"]["city"] == "Springfield"
    assert update.trigger == "DATA_UPDATE"
    assert update.payload["diff"] == {
        "previous": {"city": "Springfield"},
        "new": {"city": "Shelbyville"},
    }


async def test_a_synced_charge_reconciles_the_write_that_made_it(session: AsyncSession) -> None:
    integration = await factories.integration(session)
    at = await factories.property_(session, integration, x_id="P-1")
    lease = await factories.lease(session, at)
    write = await factories.write_request(session, integration, job_state="succeeded")
    item = await factories.write_item(session, write, status="ACCEPTED", x_lease_id=lease.x_id)
    item_id = item.id
    fields = {
        "reference_number": "r-1",
        "x_lease_id": lease.x_id,
        "amount_in_cents": 12_500,
        "transaction_date": "2026-11-02",
    }
    charge = RecordData("resident_charges", "T-1", "P-1", fields, {}, {"lease": lease.x_id})
    result = await _upsert(session, integration.id, [charge])
    assert result.counts["resident_charges"] == ModelCounts(new=1) and result.reconciled == 1
    posted = (
        await session.execute(
            select(WriteItem)
            .where(WriteItem.id == item_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    assert (posted.status, posted.record_id) == (
        "POSTED",
        result.ids["resident_charges"][("P-1", "T-1")],
    )
