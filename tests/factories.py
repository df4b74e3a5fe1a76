"""Small factories for unit tests: each makes one row with sensible defaults and returns it.

They add to the session given (flushed, never committed): the `session` fixture rolls back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.auth.models import ApiKey
from propbridge.auth.service import Principal
from propbridge.billing.models import ChargeCode
from propbridge.db.base import utcnow
from propbridge.db.ids import new_id
from propbridge.integrations.models import Integration
from propbridge.jobs.models import Job
from propbridge.residents.models import Lease, Property, Resident
from propbridge.units.models import FloorPlan
from propbridge.webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from propbridge.writes import rules
from propbridge.writes.models import WriteItem, WriteReference, WriteRequest


async def _add(session: AsyncSession, row: Any) -> Any:
    session.add(row)
    await session.flush()
    return row


def principal(*scopes: str, integrations: set[str] | None = None) -> Principal:
    """A caller with these scopes (all three by default), allowed these integrations."""
    allowed = None if integrations is None else frozenset(integrations)
    return Principal(new_id(), frozenset(scopes or ("read", "write", "admin")), allowed)


async def integration(session: AsyncSession, **values: Any) -> Integration:
    """A live ResMan integration."""
    defaults: dict[str, Any] = {
        "name": "Test PMS",
        "vendor": "RESMAN",
        "credentials_ciphertext": b"sealed",
        "account_key": new_id(),  # an account of its own
    }
    return await _add(session, Integration(**{**defaults, **values}))  # type: ignore[no-any-return]


def _synced(of: Integration, x_property_id: str, **values: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "x_id": new_id(),
        "x_property_id": x_property_id,
        "integration_id": of.id,
        "integration_vendor": of.vendor,
        "content_hash": "0" * 64,
        "last_seen": now,
        "created_at": now,
        "updated_at": now,
        **values,
    }


async def property_(session: AsyncSession, of: Integration, **values: Any) -> Property:
    """A property of an integration."""
    x_id = values.pop("x_id", new_id())
    row = Property(**_synced(of, x_id, x_id=x_id, name="Maple Court", **values))
    return await _add(session, row)  # type: ignore[no-any-return]


async def lease(session: AsyncSession, at: Property, **values: Any) -> Lease:
    """A lease at a property."""
    of = await session.get(Integration, at.integration_id)
    assert of is not None
    row = Lease(**_synced(of, at.x_id, property_id=at.id, **{"unit_number": "101", **values}))
    return await _add(session, row)  # type: ignore[no-any-return]


async def resident(session: AsyncSession, on: Lease, **values: Any) -> Resident:
    """A resident whose current lease is `on`."""
    of = await session.get(Integration, on.integration_id)
    assert of is not None
    defaults = {"first_name": "Ada", "last_name": "Lovelace", "x_lease_id": on.x_id}
    row = Resident(
        **_synced(of, on.x_property_id, property_id=on.property_id, **{**defaults, **values})
    )
    return await _add(session, row)  # type: ignore[no-any-return]


async def charge_code(session: AsyncSession, at: Property, **values: Any) -> ChargeCode:
    """A Charge category of a property."""
    of = await session.get(Integration, at.integration_id)
    assert of is not None
    defaults = {"code": "RENT", "category_type": "Charge", "name": "Rent"}
    row = ChargeCode(**_synced(of, at.x_id, property_id=at.id, **{**defaults, **values}))
    return await _add(session, row)  # type: ignore[no-any-return]


async def api_key(session: AsyncSession, **values: Any) -> ApiKey:
    """A stored key (its token unknown: tests of authentication issue one properly)."""
    defaults: dict[str, Any] = {
        "name": "test",
        "token_prefix": "pb_test",
        "token_hash": new_id(),
        "scopes": ["read"],
    }
    return await _add(session, ApiKey(**{**defaults, **values}))  # type: ignore[no-any-return]


async def webhook(session: AsyncSession, **values: Any) -> Webhook:
    """An active webhook hearing every integration."""
    defaults: dict[str, Any] = {
        "url": "https://example.test/hook",
        "headers": [],
        "active": True,
        "secret_ciphertext": b"sealed",
        "triggers": [{"id": new_id(), "trigger": "DATA_NEW", "model": None}],
        "integration_ids": None,
    }
    return await _add(session, Webhook(**{**defaults, **values}))  # type: ignore[no-any-return]


async def floor_plan(session: AsyncSession, at: Property, **values: Any) -> FloorPlan:
    """A floor plan of a property (its `x_id` is its ResMan unit-type code)."""
    of = await session.get(Integration, at.integration_id)
    assert of is not None
    defaults = {"x_id": "2B2B", "name": "Two bedrooms", "bedrooms": 2, "bathrooms": "2"}
    merged = {**defaults, **values}
    x_id = merged.pop("x_id")
    row = FloorPlan(**_synced(of, at.x_id, x_id=x_id, property_id=at.id, **merged))
    return await _add(session, row)  # type: ignore[no-any-return]


async def webhook_event(session: AsyncSession, **values: Any) -> WebhookEvent:
    """An event: a resident's DATA_NEW by default (of no integration)."""
    defaults: dict[str, Any] = {
        "trigger": "DATA_NEW",
        "integration_id": None,
        "model": "residents",
        "record_id": None,
        "payload": {"event": "DATA_NEW"},
    }
    return await _add(session, WebhookEvent(**{**defaults, **values}))  # type: ignore[no-any-return]


async def webhook_delivery(
    session: AsyncSession, to: Webhook, event: WebhookEvent | None = None, **values: Any
) -> WebhookDelivery:
    """A pending delivery to a webhook of an event (a new one when none is given)."""
    of = event if event is not None else await webhook_event(session)
    row = WebhookDelivery(**{"webhook_id": to.id, "event_id": of.id, "state": "pending", **values})
    return await _add(session, row)  # type: ignore[no-any-return]


async def job(session: AsyncSession, **values: Any) -> Job:
    """A queued sync job (of no integration unless given one)."""
    defaults: dict[str, Any] = {"kind": "sync", "payload": {"models": None}, "state": "queued"}
    return await _add(session, Job(**{**defaults, **values}))  # type: ignore[no-any-return]


async def write_request(
    session: AsyncSession, of: Integration, job_state: str = "queued", **values: Any
) -> WriteRequest:
    """An accepted resident charge of an integration, with the write job carrying it (in
    `job_state`); no items (see `write_item`)."""
    carrier = await job(session, kind="write", integration_id=of.id, state=job_state)
    defaults: dict[str, Any] = {
        "integration_id": of.id,
        "account_key": of.account_key,
        "operation": "resident_charge",
        "request_body": {"integration_id": of.id},
        "body_hash": "0" * 64,
        "dedupe_key": None,
        "job_id": carrier.id,
        "errors": [],
    }
    return await _add(session, WriteRequest(**{**defaults, **values}))  # type: ignore[no-any-return]


async def write_item(
    session: AsyncSession, of: WriteRequest, claim: bool = True, **values: Any
) -> WriteItem:
    """A write's charge of $125.00 on lease `L-1` dated 2026-11-02 (position 0, PENDING). Its
    reference is claimed in its integration's account for the write, as the recorder claims
    it, unless the write is a retry, another write holds it already, or `claim` is False."""
    defaults: dict[str, Any] = {
        "position": 0,
        "kind": "charge",
        "status": "PENDING",
        "reference_number": "r-1",
        "batch_id": "b-1",
        "amount_in_cents": 12_500,
        "x_property_id": "P-1",
        "x_lease_id": "L-1",
        "upstream": {"transaction_date": "2026-11-02"},
    }
    row = WriteItem(**{**defaults, "write_request_id": of.id, **values})
    await _add(session, row)
    integration = await session.get(Integration, of.integration_id)
    assert integration is not None
    key = rules.claim_of(integration.account_key, row.reference_number)
    if claim and of.retry_of is None and not await session.get(WriteReference, (key[1], key[0])):
        await _add(session, WriteReference(account_key=key[0], reference=key[1], job_id=of.job_id))
    return row
