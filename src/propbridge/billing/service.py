"""Accepting Billing and Payments writes: check the ids, dedupe, and commit the request with its job.

Never commits and never calls the PMS: the request's unit of work commits, a worker posts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.errors import ApiError, bad_request, issue
from propbridge.auth.service import Principal
from propbridge.billing.models import ChargeCode, WriteItem, WriteRequest
from propbridge.billing.schemas import ResidentChargeCreate, local_date
from propbridge.connectors.registry import VENDORS
from propbridge.db.ids import new_id
from propbridge.integrations.models import Integration
from propbridge.integrations.service import get_integration
from propbridge.jobs import queue
from propbridge.residents.models import Lease, Resident

WRITE_JOB = "write"


@dataclass(frozen=True)
class AcceptedWrite:
    """The job that carries a write and the body it was accepted with."""

    job_id: str
    body: dict[str, Any]


def body_hash(body: dict[str, Any]) -> str:
    """A digest of a request body, independent of key order."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def writable_integration(
    session: AsyncSession, principal: Principal, integration_id: str, operation: str
) -> Integration:
    """The integration a write goes to: 400 if unknown, 403 outside the key's allow-list,
    405 when its PMS cannot do this operation."""
    integration = await get_integration(session, integration_id)
    if integration is None:
        raise bad_request(
            "integration_id does not name an integration",
            [issue(["integration_id"], f"Integration {integration_id!r} not found")],
        )
    if not principal.may_use(integration.id):
        raise ApiError(403, "forbidden", "This API key may not write to this integration")
    connector = VENDORS.get(integration.vendor)
    if connector is None or operation not in connector.write_operations:
        raise ApiError(
            405,
            "operation_not_supported",
            f"{integration.vendor} does not support {operation.replace('_', ' ')}s",
        )
    return integration


async def _resident_and_lease(
    session: AsyncSession, integration: Integration, resident_id: str, path: list[str | int]
) -> tuple[Resident, Lease]:
    resident = (
        await session.execute(
            select(Resident).where(
                Resident.id == resident_id, Resident.integration_id == integration.id
            )
        )
    ).scalar_one_or_none()
    if resident is None:
        raise bad_request(
            "resident_id does not name a resident of this integration",
            [issue(path, f"Resident {resident_id!r} not found in integration")],
        )
    lease = None
    if resident.x_lease_id:
        lease = (
            await session.execute(
                select(Lease).where(
                    Lease.integration_id == integration.id,
                    Lease.x_property_id == resident.x_property_id,
                    Lease.x_id == resident.x_lease_id,
                )
            )
        ).scalar_one_or_none()
    if lease is None:
        raise bad_request(
            "The resident has no lease to post to",
            [issue(path, "Resident has no synced lease in ResMan")],
        )
    return resident, lease


async def _charge_code(
    session: AsyncSession,
    integration: Integration,
    charge_code_id: str,
    resident: Resident,
    path: list[str | int],
) -> ChargeCode:
    charge_code = (
        await session.execute(
            select(ChargeCode).where(
                ChargeCode.id == charge_code_id, ChargeCode.integration_id == integration.id
            )
        )
    ).scalar_one_or_none()
    if charge_code is None:
        raise bad_request(
            "charge_code_id does not name a charge code of this integration",
            [issue(path, f"Charge code {charge_code_id!r} not found in integration")],
        )
    if charge_code.property_id != resident.property_id:
        raise bad_request(
            "The charge code belongs to another property than the resident",
            [issue(path, "Charge code and resident are in different properties")],
        )
    if charge_code.kind not in (None, "Charge") or not charge_code.code:
        raise bad_request(
            "The charge code cannot be used for charges",
            [issue(path, f"Charge code is a {charge_code.kind} category")],
        )
    return charge_code


async def _existing_write(
    session: AsyncSession, dedupe_key: str, digest: str
) -> AcceptedWrite | None:
    found = (
        await session.execute(select(WriteRequest).where(WriteRequest.dedupe_key == dedupe_key))
    ).scalar_one_or_none()
    if found is None:
        return None
    if found.body_hash != digest:
        raise ApiError(
            409,
            "duplicate_reference",
            "This batch_id and reference_number were already used with a different body",
            {"job_id": found.job_id},
        )
    return AcceptedWrite(found.job_id, found.request_body)


async def accept_resident_charge(
    session: AsyncSession, principal: Principal, body: ResidentChargeCreate
) -> AcceptedWrite:
    """Validate a charge against the store and queue its post (or return the first identical one)."""
    operation = "resident_charge"
    integration = await writable_integration(session, principal, body.integration_id, operation)
    resident, lease = await _resident_and_lease(
        session, integration, body.resident_id, ["resident_id"]
    )
    charge_code = await _charge_code(
        session, integration, body.charge_code_id, resident, ["charge_code_id"]
    )
    payload = body.model_dump()
    digest = body_hash(payload)
    dedupe_key = "\x1f".join((integration.id, operation, body.batch_id, body.reference_number))
    existing = await _existing_write(session, dedupe_key, digest)
    if existing is not None:
        return existing
    item = WriteItem(
        position=0,
        kind="charge",
        reference_number=body.reference_number,
        batch_id=body.batch_id,
        amount_in_cents=body.amount_in_cents,
        x_property_id=resident.x_property_id,
        x_lease_id=lease.x_id,
        upstream={
            "customer_id": lease.x_id,
            "unit_id": lease.unit_number,
            "charge_code": charge_code.code,
            "transaction_date": local_date(body.transaction_date),
            "description": body.description,
            "notes": body.notes,
        },
    )
    return await _enqueue_write(
        session, integration, operation, payload, digest, dedupe_key, [item]
    )


async def _enqueue_write(
    session: AsyncSession,
    integration: Integration,
    operation: str,
    payload: dict[str, Any],
    digest: str,
    dedupe_key: str | None,
    items: list[WriteItem],
) -> AcceptedWrite:
    request_id, job_id = new_id(), new_id()
    try:
        async with session.begin_nested():
            session.add(
                WriteRequest(
                    id=request_id,
                    integration_id=integration.id,
                    operation=operation,
                    request_body=payload,
                    body_hash=digest,
                    dedupe_key=dedupe_key,
                    job_id=job_id,
                )
            )
            await session.flush()
    except IntegrityError:
        # A concurrent identical request won the race: answer with its job.
        existing = await _existing_write(session, dedupe_key or "", digest)
        if existing is None:
            raise
        return existing
    for item in items:
        item.write_request_id = request_id
        session.add(item)
    await queue.enqueue(
        session,
        WRITE_JOB,
        {"write_request_id": request_id},
        integration_id=integration.id,
        job_id=job_id,
        max_attempts=5,
    )
    return AcceptedWrite(job_id, payload)
