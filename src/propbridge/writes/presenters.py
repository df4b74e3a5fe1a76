"""What a write became: Propexo's `write_status` (plus our per-item extension) and write logs.

Pure presentation of stored rows; no queries.
"""

from __future__ import annotations

from typing import Any

from propbridge.connectors.base import TransactionToPost
from propbridge.db.base import isoformat_z
from propbridge.writes.models import WriteItem, WriteRequest

# Items the PMS took (Propexo's SUCCESS: the document was accepted), whatever became of them
# since; and items it did not, or may not have.
SUCCEEDED_ITEM_STATES = frozenset({"ACCEPTED", "POSTED", "UNCONFIRMED"})
FAILED_ITEM_STATES = frozenset({"REJECTED", "OUTCOME_UNKNOWN"})
ITEM_STATES = ("PENDING", "ACCEPTED", "POSTED", "UNCONFIRMED", "REJECTED", "OUTCOME_UNKNOWN")


def overall_status(job_state: str, items: list[WriteItem]) -> str:
    """PENDING until the job ends; then SUCCESS, FAILURE or (mixed items) PARTIAL_SUCCESS."""
    if job_state in ("queued", "running") or not items:
        return "PENDING"
    # An item still PENDING when its job has ended was never sent (the job failed before).
    states = {"REJECTED" if item.status == "PENDING" else item.status for item in items}
    if states <= SUCCEEDED_ITEM_STATES:
        return "SUCCESS"
    if states <= FAILED_ITEM_STATES:
        return "FAILURE"
    return "PARTIAL_SUCCESS"


def present_write_status(
    request: WriteRequest,
    job_state: str,
    job_error: str | None,
    items: list[WriteItem],
    retried_by: str | None = None,
) -> dict[str, Any]:
    """The body of `GET /v1/admin/write-status/{root_job_id}`; ours: `items`, `operation`,
    `integration_id` and `retried_by` (the job of this write's latest retry)."""
    ordered = sorted(items, key=lambda item: item.position)
    created = next((item.record_id for item in ordered if item.record_id), None)
    status = overall_status(job_state, ordered)
    errors = list(request.errors)
    if not errors and job_error and status == "FAILURE":
        errors = [job_error]  # the job failed before it could record a PMS answer
    return {
        "write_status": status,
        "errors": errors,
        "created_record_id": created,
        "operation": request.operation,
        "integration_id": request.integration_id,
        "retried_by": retried_by,
        "items": [present_item(item) for item in ordered],
    }


def present_item(item: WriteItem) -> dict[str, Any]:
    """One item of a write: what became of it, and since when."""
    return {
        "index": item.position,
        "reference_number": item.reference_number,
        "status": item.status,
        "record_id": item.record_id,
        "error": item.error,
        "accepted_at": isoformat_z(item.accepted_at),
        "posted_at": isoformat_z(item.posted_at),
        "unconfirmed_at": isoformat_z(item.unconfirmed_at),
        "held_by_job_id": item.held_by_job_id,
    }


JOB_TYPES = {
    "resident_charge": ("WRITE_RESIDENT_CHARGE", "Create resident charge"),
    "resident_payment": ("WRITE_RESIDENT_PAYMENT", "Create resident payment"),
    "resident_charge_batch": ("WRITE_RESIDENT_CHARGE_BATCH", "Create resident charges (batch)"),
}


def present_log(
    write: WriteRequest,
    job_state: str,
    job_error: str | None,
    vendor: str,
    status: str,
    retried_by: str | None,
    item_statuses: dict[str, int],
) -> dict[str, Any]:
    """One entry of Propexo's write logs; ours: `vendor`, `retry_of`, `retried_by`, and
    `item_statuses` (how many of its items are in each state: what the write became)."""
    job_type, name = JOB_TYPES.get(write.operation, (write.operation.upper(), write.operation))
    error = None
    if status == "FAILURE":
        error = "; ".join(write.errors) if write.errors else job_error or "failed"
    return {
        "id": write.id,
        "created_at": isoformat_z(write.created_at),
        "job_id": write.job_id,
        "job_log_id": write.job_id,
        "status": status,
        "integration_id": write.integration_id,
        "job_type": job_type,
        "parameters": write.request_body,
        "error": error,
        "name": f"{name} ({vendor})",
        "vendor": vendor,
        "retry_of": write.retry_of,
        "retried_by": retried_by,
        "item_statuses": {
            state: item_statuses[state] for state in ITEM_STATES if state in item_statuses
        },
    }


def transaction_to_post(item: Any) -> TransactionToPost:
    """A recorded item as its connector takes it."""
    upstream = item.upstream
    return TransactionToPost(
        kind=item.kind,
        reference_number=item.reference_number,
        batch_id=item.batch_id,
        transaction_date=upstream["transaction_date"],
        description=upstream["description"],
        notes=upstream["notes"],
        amount_in_cents=item.amount_in_cents,
        upstream=upstream,
    )
