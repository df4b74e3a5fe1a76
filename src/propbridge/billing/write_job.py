"""The `write` job: post a write's transactions to the PMS once, and record what became of them.

The document is marked dispatched (and committed) before it is sent, so a crash mid-post is
known: such a write is reported OUTCOME_UNKNOWN, never sent again blindly (SPEC §4).
Statements are Core on purpose: this runs once per charge and is the worker's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import bindparam, select, update

from propbridge.billing.models import WriteItem, WriteRequest
from propbridge.connectors.base import (
    IntegrationAccess,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
    TransactionToPost,
)
from propbridge.connectors.registry import connector_for
from propbridge.db.base import utcnow
from propbridge.integrations.models import Integration
from propbridge.integrations.request_budget import RequestBudget
from propbridge.jobs import queue
from propbridge.jobs.retry import backoff_seconds
from propbridge.webhooks.events import Event, emit, listeners

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from propbridge.db.engine import Executor
    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

UNKNOWN_ADVICE = (
    "The document may have reached ResMan; check its Partner Transactions before "
    "retrying, or wait for the next sync, which reconciles it if it was taken."
)
ITEM_COLUMNS = (
    WriteItem.position,
    WriteItem.kind,
    WriteItem.reference_number,
    WriteItem.batch_id,
    WriteItem.amount_in_cents,
    WriteItem.x_property_id,
    WriteItem.upstream,
)
LOAD_REQUEST = (
    select(
        WriteRequest.integration_id,
        WriteRequest.finished_at,
        WriteRequest.dispatched_at,
        Integration.vendor,
        Integration.base_url,
        Integration.credentials_ciphertext,
        Integration.deleted_at,
        Integration.max_request_frequency,
        Integration.max_request_cadence,
    )
    .join(Integration, Integration.id == WriteRequest.integration_id)
    .where(WriteRequest.id == bindparam("request_id"))
)
LOAD_ITEMS = (
    select(*ITEM_COLUMNS)
    .where(WriteItem.write_request_id == bindparam("request_id"))
    .order_by(WriteItem.position)
)


@dataclass
class WriteToSend:
    """A write request as the worker needs it."""

    request_id: str
    integration_id: str
    finished: bool
    dispatched: bool
    vendor: str
    base_url: str | None
    ciphertext: bytes
    deleted: bool
    items: list[Any]
    request_frequency: int = 1
    request_cadence: str = "SECOND"


async def _load(executor: Executor, request_id: str) -> WriteToSend:
    row = (await executor.execute(LOAD_REQUEST, {"request_id": request_id})).first()
    if row is None:
        raise LookupError(f"write request {request_id} is missing")
    items = list((await executor.execute(LOAD_ITEMS, {"request_id": request_id})).all())
    return WriteToSend(
        request_id=request_id,
        integration_id=row.integration_id,
        finished=row.finished_at is not None,
        dispatched=row.dispatched_at is not None,
        vendor=row.vendor,
        base_url=row.base_url,
        ciphertext=row.credentials_ciphertext,
        deleted=row.deleted_at is not None,
        items=items,
        request_frequency=row.max_request_frequency,
        request_cadence=row.max_request_cadence,
    )


def _to_post(item: Any) -> TransactionToPost:
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


async def conclude(
    executor: Executor,
    job: queue.ClaimedJob,
    request_id: str,
    status: str,
    errors: list[str],
    item_errors: dict[int, str] | None = None,
) -> None:
    """Record the outcome of every item and end the job, in the caller's one transaction."""
    now = utcnow()
    default_error = errors[0] if errors and status != "ACCEPTED" else None
    if item_errors:
        # The PMS named the culprits; the others were refused only because they were with them.
        default_error = "Not posted: the document was rejected because of other transactions in it"
    await executor.execute(
        update(WriteItem)
        .where(WriteItem.write_request_id == request_id)
        .values(status=status, error=default_error)
    )
    for position, error in (item_errors or {}).items():
        await executor.execute(
            update(WriteItem)
            .where(WriteItem.write_request_id == request_id, WriteItem.position == position)
            .values(error=error)
        )
    await executor.execute(
        update(WriteRequest)
        .where(WriteRequest.id == request_id)
        .values(errors=errors, finished_at=now, updated_at=now)
    )
    if status == "ACCEPTED":
        await queue.mark_succeeded(executor, job)
    else:
        await queue.mark_failed(executor, job, errors[0] if errors else status)
    await _report(executor, job, request_id, status, errors)


async def _report(
    executor: Executor, job: queue.ClaimedJob, request_id: str, status: str, errors: list[str]
) -> None:
    """The write's outcome as a webhook event, in the transaction that records it."""
    hooks = await listeners(executor)
    if not hooks:
        return
    row = (
        await executor.execute(
            select(Integration.id, Integration.vendor, WriteRequest.operation)
            .join(WriteRequest, WriteRequest.integration_id == Integration.id)
            .where(WriteRequest.id == request_id)
        )
    ).one()
    succeeded = status == "ACCEPTED"
    trigger = "WRITE_OPERATION_SUCCESS" if succeeded else "WRITE_OPERATION_FAILURE"
    payload = {
        "event": trigger,
        "integration_id": row.id,
        "vendor": row.vendor,
        "root_job_id": job.id,
        "operation": row.operation,
        "write_status": "SUCCESS" if succeeded else "FAILURE",
        "errors": errors,
    }
    await emit(executor, [Event(trigger, row.id, payload)], hooks)


class WriteJobHandler:
    """The `write` job kind."""

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: Any) -> None:
        request_id = job.payload["write_request_id"]
        bound = log.bind(
            job_id=job.id, integration_id=job.integration_id, write_request_id=request_id
        )
        async with runtime.database.read_connection() as connection:
            write = await _load(connection, request_id)
        # Everything that can fail before sending fails here, before the dispatched mark.
        access = IntegrationAccess(
            write.integration_id,
            write.base_url,
            runtime.cipher.decrypt(write.integration_id, write.ciphertext),
            RequestBudget(
                runtime.database,
                write.integration_id,
                write.request_frequency,
                write.request_cadence,
            ),
        )
        connector = connector_for(write.vendor, access, runtime.http())
        async with runtime.database.write_connection() as connection:
            if write.finished:
                await queue.mark_succeeded(connection, job)
                return
            if write.deleted:
                await conclude(
                    connection,
                    job,
                    request_id,
                    "REJECTED",
                    ["The integration was deleted before the write was sent"],
                )
                return
            await connection.execute(
                update(WriteRequest)
                .where(WriteRequest.id == request_id)
                .values(dispatched_at=utcnow())
            )
        try:
            await connector.post_transactions(
                write.items[0].x_property_id, [_to_post(item) for item in write.items]
            )
        except RetryableError as error:
            bound.warning("write_not_delivered", reason=error.message, attempt=job.attempt)
            await self._not_delivered(runtime, job, request_id, error)
            return
        except RejectedError as error:
            bound.warning("write_rejected", reason=error.message)
            await self._end(
                runtime,
                job,
                request_id,
                "REJECTED",
                [f"ResMan rejected the document: {error.message}"],
                error.item_errors,
            )
            return
        except OutcomeUnknownError as error:
            bound.error("write_outcome_unknown", reason=error.message)
            await self._end(
                runtime,
                job,
                request_id,
                "OUTCOME_UNKNOWN",
                [f"Outcome unknown: {error.message}. {UNKNOWN_ADVICE}"],
            )
            return
        except Exception as error:
            bound.exception("write_crashed", error_type=type(error).__name__)
            await self._end(
                runtime,
                job,
                request_id,
                "OUTCOME_UNKNOWN",
                [f"Outcome unknown: {type(error).__name__}. {UNKNOWN_ADVICE}"],
            )
            return
        await self._end(runtime, job, request_id, "ACCEPTED", [])
        bound.info("write_accepted", transactions=len(write.items))

    async def _end(
        self,
        runtime: Runtime,
        job: queue.ClaimedJob,
        request_id: str,
        status: str,
        errors: list[str],
        item_errors: dict[int, str] | None = None,
    ) -> None:
        async with runtime.database.write_connection() as connection:
            await conclude(connection, job, request_id, status, errors, item_errors)

    async def _not_delivered(
        self, runtime: Runtime, job: queue.ClaimedJob, request_id: str, error: RetryableError
    ) -> None:
        """ResMan provably did not take it: clear the mark and try again later, or give up."""
        async with runtime.database.write_connection() as connection:
            await connection.execute(
                update(WriteRequest).where(WriteRequest.id == request_id).values(dispatched_at=None)
            )
            if job.attempt < job.max_attempts:
                await queue.schedule_retry(
                    connection,
                    job,
                    error.message,
                    backoff_seconds(
                        job.attempt, error.retry_after, base=runtime.settings.retry_base_seconds
                    ),
                )
            else:
                await conclude(
                    connection,
                    job,
                    request_id,
                    "REJECTED",
                    [f"Not delivered after {job.attempt} attempts: {error.message}"],
                )

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        """A worker died holding this write: re-queue only if it had not started sending."""
        request_id = job.payload["write_request_id"]
        write = await _load(session, request_id)
        if write.finished:
            await queue.mark_succeeded(session, job)
        elif not write.dispatched:
            await queue.schedule_retry(session, job, "worker lost before sending", 0)
        else:
            await conclude(
                session,
                job,
                request_id,
                "OUTCOME_UNKNOWN",
                [f"Outcome unknown: the worker stopped while posting to ResMan. {UNKNOWN_ADVICE}"],
            )
