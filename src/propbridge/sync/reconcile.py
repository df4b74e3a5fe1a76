"""Reconciliation: ledger transactions found by a sync are matched to the writes that made them.

ResMan returns no id for a posted document; once a manager approves it, its transactions enter
the ledger with new ids and the partner's reference. A match (same lease, reference, amount and
kind) turns the write item `POSTED` with the record's id — an `OUTCOME_UNKNOWN` one included.
Runs inside the sync's page transaction; never commits.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.billing.models import WriteItem, WriteRequest
from propbridge.billing.write_status import FAILED_ITEM_STATES
from propbridge.db.base import utcnow
from propbridge.webhooks.events import Event, emit, listeners

OPEN_ITEM_STATES = ("ACCEPTED", "OUTCOME_UNKNOWN")
KIND_OF_MODEL = {"resident_charges": "charge", "resident_payments": "payment"}


async def reconcile(
    session: AsyncSession, integration_id: str, found: list[tuple[str, str, dict[str, Any]]]
) -> int:
    """Match `(model, record_id, fields)` of synced transactions to open write items.

    Returns how many items became POSTED.
    """
    candidates: dict[tuple[str, str, str, int], list[str]] = defaultdict(list)
    for model, record_id, fields in found:
        kind = KIND_OF_MODEL.get(model)
        reference, lease, amount = (
            fields.get("reference_number"),
            fields.get("x_lease_id"),
            fields.get("amount_in_cents"),
        )
        if kind and reference and lease and amount is not None:
            candidates[(kind, lease, reference, amount)].append(record_id)
    if not candidates:
        return 0
    references = sorted({key[2] for key in candidates})
    already_matched = set()
    items = []
    for start in range(0, len(references), 500):
        rows = await session.execute(
            select(
                WriteItem.id,
                WriteItem.write_request_id,
                WriteItem.kind,
                WriteItem.x_lease_id,
                WriteItem.reference_number,
                WriteItem.amount_in_cents,
                WriteItem.status,
                WriteItem.record_id,
            )
            .join(WriteRequest, WriteRequest.id == WriteItem.write_request_id)
            .where(
                WriteRequest.integration_id == integration_id,
                WriteItem.reference_number.in_(references[start : start + 500]),
            )
        )
        for row in rows:
            if row.record_id:
                already_matched.add(row.record_id)
            elif row.status in OPEN_ITEM_STATES:
                items.append(row)
    posted = 0
    touched_requests = set()
    matched: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in sorted(items, key=lambda r: r.id):
        records = [
            r
            for r in candidates.get(
                (item.kind, item.x_lease_id, item.reference_number, item.amount_in_cents), []
            )
            if r not in already_matched
        ]
        if not records:
            continue
        record_id = records[0]
        already_matched.add(record_id)
        await session.execute(
            update(WriteItem)
            .where(WriteItem.id == item.id)
            .values(status="POSTED", record_id=record_id, error=None)
        )
        touched_requests.add(item.write_request_id)
        matched[item.write_request_id].append(
            {"reference_number": item.reference_number, "record_id": record_id}
        )
        posted += 1
    for request_id in touched_requests:
        states = set(
            (
                await session.execute(
                    select(WriteItem.status).where(WriteItem.write_request_id == request_id)
                )
            ).scalars()
        )
        if not states & FAILED_ITEM_STATES:
            # Every item reached the ledger: the earlier uncertainty no longer stands.
            await session.execute(
                update(WriteRequest)
                .where(WriteRequest.id == request_id)
                .values(errors=[], updated_at=utcnow())
            )
    await _report(session, integration_id, matched)
    return posted


async def _report(
    session: AsyncSession, integration_id: str, matched: dict[str, list[dict[str, Any]]]
) -> None:
    """WRITE_RECONCILED (ours) for each write whose transactions were just found."""
    if not matched:
        return
    hooks = await listeners(session)
    if not hooks:
        return
    rows = await session.execute(
        select(WriteRequest.id, WriteRequest.job_id, WriteRequest.operation).where(
            WriteRequest.id.in_(sorted(matched))
        )
    )
    events = [
        Event(
            "WRITE_RECONCILED",
            integration_id,
            {
                "event": "WRITE_RECONCILED",
                "integration_id": integration_id,
                "root_job_id": job_id,
                "operation": operation,
                "posted": matched[request_id],
            },
        )
        for request_id, job_id, operation in rows
    ]
    await emit(session, events, hooks)
