"""Accepting Billing and Payments writes: check the ids, dedupe, and record the request with its job.

Never commits and never calls the PMS. Lookups run in a read session, the recording in a short
write transaction; the endpoint owns both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from propbridge.api.errors import ApiError, bad_request, issue
from propbridge.auth.service import Principal
from propbridge.billing.models import ChargeCode, WriteRequest
from propbridge.billing.schemas import ResidentChargeCreate, local_date
from propbridge.connectors.registry import VENDORS
from propbridge.integrations.models import Integration
from propbridge.residents.models import Lease, Resident

WRITE_JOB = "write"
WRITE_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class AcceptedWrite:
    """The job that carries a write and the body it was accepted with."""

    job_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class PendingWrite:
    """A validated write, ready to be recorded: the request, its items and its dedupe key."""

    integration_id: str
    operation: str
    body: dict[str, Any]
    dedupe_key: str | None
    items: list[dict[str, Any]]

    @property
    def digest(self) -> str:
        """A digest of the body, independent of key order."""
        return hashlib.sha256(json.dumps(self.body, sort_keys=True).encode()).hexdigest()


def _check_integration(
    principal: Principal, integration_id: str, vendor: str | None, operation: str
) -> None:
    """400 if unknown, 403 outside the key's allow-list, 405 if the PMS cannot do it."""
    if vendor is None:
        raise bad_request(
            "integration_id does not name an integration",
            [issue(["integration_id"], f"Integration {integration_id!r} not found")],
        )
    if not principal.may_use(integration_id):
        raise ApiError(403, "forbidden", "This API key may not write to this integration")
    connector = VENDORS.get(vendor)
    if connector is None or operation not in connector.write_operations:
        raise ApiError(
            405,
            "operation_not_supported",
            f"{vendor} does not support {operation.replace('_', ' ')}s",
        )


# Built once: constructing a statement costs more than running it on this hot path.
CHARGE_TARGET = (
    select(
        Integration.vendor,
        Resident.property_id,
        Resident.x_property_id,
        Lease.x_id,
        Lease.unit_number,
        ChargeCode.id,
        ChargeCode.property_id,
        ChargeCode.kind,
        ChargeCode.code,
    )
    .select_from(Integration)
    .outerjoin(
        Resident,
        and_(Resident.id == bindparam("resident_id"), Resident.integration_id == Integration.id),
    )
    .outerjoin(
        Lease,
        and_(
            Lease.integration_id == Integration.id,
            Lease.x_property_id == Resident.x_property_id,
            Lease.x_id == Resident.x_lease_id,
        ),
    )
    .outerjoin(
        ChargeCode,
        and_(
            ChargeCode.id == bindparam("charge_code_id"),
            ChargeCode.integration_id == Integration.id,
        ),
    )
    .where(Integration.id == bindparam("integration_id"), Integration.deleted_at.is_(None))
)


async def resolve_resident_charge(
    session: AsyncSession | AsyncConnection, principal: Principal, body: ResidentChargeCreate
) -> PendingWrite:
    """Check the charge's ids against the store in one query and build what the worker needs."""
    operation = "resident_charge"
    row = (
        await session.execute(
            CHARGE_TARGET,
            {
                "integration_id": body.integration_id,
                "resident_id": body.resident_id,
                "charge_code_id": body.charge_code_id,
            },
        )
    ).first()
    _check_integration(principal, body.integration_id, row[0] if row else None, operation)
    assert row is not None
    (
        _,
        resident_property,
        x_property_id,
        lease_x_id,
        unit_number,
        code_id,
        code_property,
        code_kind,
        code,
    ) = row
    problems = []
    if resident_property is None:
        problems.append(
            issue(["resident_id"], f"Resident {body.resident_id!r} not found in integration")
        )
    elif lease_x_id is None:
        problems.append(issue(["resident_id"], "Resident has no synced lease in ResMan"))
    if code_id is None:
        problems.append(
            issue(
                ["charge_code_id"], f"Charge code {body.charge_code_id!r} not found in integration"
            )
        )
    elif resident_property is not None and code_property != resident_property:
        problems.append(
            issue(["charge_code_id"], "Charge code and resident are in different properties")
        )
    elif code_kind not in (None, "Charge") or not code:
        problems.append(issue(["charge_code_id"], f"Charge code is a {code_kind} category"))
    if problems:
        raise bad_request("The charge names records that cannot take it", problems)
    item = {
        "position": 0,
        "kind": "charge",
        "reference_number": body.reference_number,
        "batch_id": body.batch_id,
        "amount_in_cents": body.amount_in_cents,
        "x_property_id": x_property_id,
        "x_lease_id": lease_x_id,
        "upstream": {
            "customer_id": lease_x_id,
            "unit_id": unit_number,
            "charge_code": code,
            "transaction_date": local_date(body.transaction_date),
            "description": body.description,
            "notes": body.notes,
        },
    }
    dedupe_key = "\x1f".join((body.integration_id, operation, body.batch_id, body.reference_number))
    return PendingWrite(body.integration_id, operation, body.model_dump(), dedupe_key, [item])


async def find_existing_write(session: AsyncSession, pending: PendingWrite) -> AcceptedWrite | None:
    """The first write with the same dedupe key: replayed if the body matches, else 409."""
    if pending.dedupe_key is None:
        return None
    found = (
        await session.execute(
            select(WriteRequest.job_id, WriteRequest.body_hash, WriteRequest.request_body).where(
                WriteRequest.dedupe_key == pending.dedupe_key
            )
        )
    ).first()
    if found is None:
        return None
    if found[1] != pending.digest:
        raise duplicate_conflict(found[0])
    return AcceptedWrite(found[0], found[2])


def duplicate_conflict(job_id: str) -> ApiError:
    """409: the dedupe key was used before with another body."""
    return ApiError(
        409,
        "duplicate_reference",
        "This batch_id and reference_number were already used with a different body",
        {"job_id": job_id},
    )
