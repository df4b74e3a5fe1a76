"""Reconciliation: ledger transactions found by a sync are matched to the writes that made them.

ResMan returns no id for a posted document; once a manager approves it, its transactions enter
the ledger with new ids and the partner's reference. A match (same lease, reference, amount and
kind) turns the write item `POSTED` with the record's id — an `OUTCOME_UNKNOWN` one included.
Runs inside the sync's page transaction; never commits.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from propbridge.db.engine import Executor
from propbridge.webhooks.events import Event, emit, listeners
from propbridge.writes import repository
from propbridge.writes.presenters import FAILED_ITEM_STATES

KIND_OF_MODEL = {"resident_charges": "charge", "resident_payments": "payment"}
# (kind, PMS lease id, reference number, amount in cents): what a transaction and an item share.
Match = tuple[str, str, str, int]


def _candidates(found: list[tuple[str, str, dict[str, Any]]]) -> dict[Match, list[str]]:
    """Synced transactions by what an item of a write would share with them."""
    candidates: dict[Match, list[str]] = defaultdict(list)
    for model, record_id, fields in found:
        kind = KIND_OF_MODEL.get(model)
        reference, lease, amount = (
            fields.get("reference_number"),
            fields.get("x_lease_id"),
            fields.get("amount_in_cents"),
        )
        if kind and reference and lease and amount is not None:
            candidates[(kind, lease, reference, amount)].append(record_id)
    return candidates


async def reconcile(
    db: Executor, integration_id: str, found: list[tuple[str, str, dict[str, Any]]]
) -> int:
    """Match `(model, record_id, fields)` of synced transactions to open write items.

    Returns how many items became POSTED.
    """
    candidates = _candidates(found)
    if not candidates:
        return 0
    references = sorted({key[2] for key in candidates})
    rows = await repository.items_with_references(db, integration_id, references)
    already_matched = {row.record_id for row in rows if row.record_id}
    items = [r for r in rows if not r.record_id and r.status in repository.OPEN_ITEM_STATES]
    matched: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in sorted(items, key=lambda r: r.id):
        key = (item.kind, item.x_lease_id, item.reference_number, item.amount_in_cents)
        records = [r for r in candidates.get(key, []) if r not in already_matched]
        if not records:
            continue
        already_matched.add(records[0])
        await repository.mark_posted(db, item.id, records[0])
        matched[item.write_request_id].append(
            {"reference_number": item.reference_number, "record_id": records[0]}
        )
    for request_id in matched:
        if not await repository.item_states(db, request_id) & FAILED_ITEM_STATES:
            # Every item reached the ledger: the earlier uncertainty no longer stands.
            await repository.clear_errors(db, request_id)
    await _report(db, integration_id, matched)
    return sum(len(posted) for posted in matched.values())


async def _report(
    db: Executor, integration_id: str, matched: dict[str, list[dict[str, Any]]]
) -> None:
    """WRITE_RECONCILED (ours) for each write whose transactions were just found."""
    if not matched:
        return
    hooks = await listeners(db)
    if not hooks:
        return
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
        for request_id, job_id, operation in await repository.jobs_of_writes(db, matched)
    ]
    await emit(db, events, hooks)
