"""Reconciliation: ledger transactions found by a sync credited to the writes that made them, and
accepted writes that syncs keep not finding marked UNCONFIRMED.

ResMan returns no id for a posted document; once a manager approves it, its transactions enter
the ledger with new ids and the partner's reference, and nothing else of ours (not the batch).
A reference is claimed by one write per PMS account (`rules.claim_of`), so a ledger row is
credited to that write's chain alone: to the attempt ResMan accepted, else to one whose outcome
is unknown, and only when kind, lease, amount and transaction date agree. The write's own
integration credits it while it syncs the account; after that any integration of the account. Runs inside the
sync's page transaction; never commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from propbridge.db.base import isoformat_z, utcnow
from propbridge.db.engine import Executor
from propbridge.webhooks.events import Event, emit, listeners
from propbridge.writes import repository, rules
from propbridge.writes.presenters import FAILED_ITEM_STATES

KIND_OF_MODEL = {"resident_charges": "charge", "resident_payments": "payment"}
# Items whose transactions a sync may still find in the ledger: taken by the PMS (waiting for
# approval, or waiting longer than expected), or sent with no answer.
OPEN_ITEM_STATES = frozenset({"ACCEPTED", "UNCONFIRMED", "OUTCOME_UNKNOWN"})
# Of those, the ones the PMS is known to have taken: credited before an unknown outcome.
TAKEN_ITEM_STATES = frozenset({"ACCEPTED", "UNCONFIRMED"})


@dataclass(frozen=True)
class LedgerRow:
    """A synced transaction as reconciliation compares it with the items of a write."""

    record_id: str
    kind: str
    x_lease_id: str
    reference: str  # normalized
    amount_in_cents: int
    transaction_date: str | None

    def agrees_with(self, item: Any) -> bool:
        """The item sent this transaction: same kind, lease, amount and date. A manager who
        posts a partner file on another Posting Date makes its charges' dates differ: such a
        row is not credited, since nothing else tells it from another transaction carrying
        the same reference (the item ends UNCONFIRMED instead; see the README)."""
        return (
            item.kind == self.kind
            and item.x_lease_id == self.x_lease_id
            and item.amount_in_cents == self.amount_in_cents
            and (item.upstream or {}).get("transaction_date") == self.transaction_date
        )


def _ledger_rows(found: list[tuple[str, str, dict[str, Any]]]) -> list[LedgerRow]:
    """The synced transactions that could be the ledger rows of writes, in a stable order."""
    rows = []
    for model, record_id, fields in found:
        kind = KIND_OF_MODEL.get(model)
        reference, lease, amount = (
            fields.get("reference_number"),
            fields.get("x_lease_id"),
            fields.get("amount_in_cents"),
        )
        if kind and reference and lease and amount is not None:
            normalized = rules.normalized_reference(reference)
            date = fields.get("transaction_date")
            rows.append(LedgerRow(record_id, kind, lease, normalized, amount, date))
    return sorted(rows, key=lambda row: row.record_id)


def _attempt_to_credit(row: LedgerRow, chain: list[Any]) -> Any | None:
    """The item of a chain (a write and its retries, each with this reference) that a ledger
    row is the transaction of: none if the chain's transaction was found already or the row
    does not agree; else the latest attempt the PMS took, else the latest of unknown outcome."""
    if any(item.status == "POSTED" for item in chain):
        return None
    agreeing = [i for i in chain if i.status in OPEN_ITEM_STATES and row.agrees_with(i)]
    taken = [i for i in agreeing if i.status in TAKEN_ITEM_STATES]
    candidates = taken or agreeing
    if not candidates:
        return None
    return max(candidates, key=lambda item: (item.created_at, item.id))


async def reconcile(
    db: Executor, integration_id: str, found: list[tuple[str, str, dict[str, Any]]]
) -> int:
    """Credit `(model, record_id, fields)` of synced transactions to the writes holding their
    references. Returns how many items became POSTED."""
    rows = _ledger_rows(found)
    if not rows:
        return 0
    account = await repository.account_of(db, integration_id)
    if account is None:
        return 0
    holders = await repository.reference_holders(
        db, account, sorted({row.reference for row in rows})
    )
    if not holders:
        return 0
    chains: dict[tuple[str, str], list[Any]] = defaultdict(list)
    holder_jobs = sorted(set(holders.values()))
    for item in await repository.chain_items(db, integration_id, account, holder_jobs):
        chains[(item.holder, rules.normalized_reference(item.reference_number))].append(item)
    now = utcnow()
    matched: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        key = (holders.get(row.reference, ""), row.reference)
        item = _attempt_to_credit(row, chains.get(key, []))
        if item is None:
            continue
        # A chain's transaction is found once: another row with its reference is not it.
        del chains[key]
        await repository.mark_posted(db, item.id, row.record_id, now)
        matched[item.write_request_id].append(
            {"reference_number": item.reference_number, "record_id": row.record_id}
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


async def unconfirm_overdue(db: Executor, integration_id: str, accepted_before: datetime) -> int:
    """Items the PMS took before `accepted_before` that the syncs since have not found in its
    ledger (a read of the whole ledger that began after that moment has just ended): most
    likely a manager rejected them. They turn UNCONFIRMED, with a WRITE_UNCONFIRMED event
    (ours) each, once; a later sync that finds one still makes it POSTED. How many turned."""
    overdue = await repository.overdue_items(db, integration_id, accepted_before)
    if not overdue:
        return 0
    await repository.mark_unconfirmed(db, [item.id for item in overdue], utcnow())
    events = [
        Event(
            "WRITE_UNCONFIRMED",
            integration_id,
            {
                "event": "WRITE_UNCONFIRMED",
                "integration_id": integration_id,
                "root_job_id": item.job_id,
                "operation": item.operation,
                "index": item.position,
                "reference_number": item.reference_number,
                "accepted_at": isoformat_z(item.accepted_at),
            },
        )
        for item in overdue
    ]
    await emit(db, events)
    return len(overdue)
