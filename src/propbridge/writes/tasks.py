"""The `write` job: post a write's transactions to the PMS once, and record what became of them.

The document is marked dispatched (and committed) before it is sent, so a crash mid-post is
known: such a write is reported OUTCOME_UNKNOWN, never sent again blindly (SPEC §4).
Statements are Core on purpose: this runs once per charge and is the worker's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from propbridge.connectors.base import (
    AuthenticationError,
    IntegrationAccess,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
    TransactionToPost,
)
from propbridge.connectors.registry import connector_for
from propbridge.db.base import utcnow
from propbridge.integrations import repository as integrations
from propbridge.integrations.request_budget import RequestBudget
from propbridge.jobs import queue
from propbridge.jobs.retry import backoff_seconds
from propbridge.webhooks.events import Event, emit, listeners
from propbridge.writes import repository

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from propbridge.db.engine import Executor
    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

UNKNOWN_ADVICE = (
    "The document may have reached ResMan; check its Partner Transactions before "
    "retrying, or wait for the next sync, which reconciles it if it was taken."
)
# The error of items refused only because they were in a document with others the PMS named.
WITH_OTHERS = "Not posted: the document was rejected because of other transactions in it"


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
    row, items = await repository.write_to_send(executor, request_id)
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
    item_error = errors[0] if errors and status != "ACCEPTED" else None
    if item_errors:
        item_error = WITH_OTHERS  # the PMS named the culprits
    await repository.record_outcome(
        executor, request_id, status, item_error, item_errors or {}, errors
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
    row = await repository.write_origin(executor, request_id)
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


def _failure(error: Exception, bound: Any) -> tuple[str, list[str], dict[int, str] | None]:
    """What a failed post means for the write: its items' status, its errors, each culprit's."""
    if isinstance(error, RejectedError):
        bound.warning("write_rejected", reason=error.message)
        return "REJECTED", [f"ResMan rejected the document: {error.message}"], error.item_errors
    if isinstance(error, OutcomeUnknownError):
        bound.error("write_outcome_unknown", reason=error.message)
        return "OUTCOME_UNKNOWN", [f"Outcome unknown: {error.message}. {UNKNOWN_ADVICE}"], None
    bound.exception("write_crashed", error_type=type(error).__name__)
    return "OUTCOME_UNKNOWN", [f"Outcome unknown: {type(error).__name__}. {UNKNOWN_ADVICE}"], None


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
            if not await self._begin(connection, job, write):
                return
        item_errors: dict[int, str] | None = None
        # Whether the PMS took the credentials: known when it accepted the document or refused
        # the credentials; a rejected document or an unknown outcome does not tell.
        authenticated: bool | None = None
        try:
            await connector.post_transactions(
                write.items[0].x_property_id, [_to_post(item) for item in write.items]
            )
        except RetryableError as error:
            bound.warning("write_not_delivered", reason=error.message, attempt=job.attempt)
            await self._not_delivered(runtime, job, request_id, error)
            return
        except Exception as error:
            status, errors, item_errors = _failure(error, bound)
            if isinstance(error, AuthenticationError):
                authenticated = False
        else:
            status, errors = "ACCEPTED", []
            authenticated = True
            bound.info("write_accepted", transactions=len(write.items))
        async with runtime.database.write_connection() as connection:
            await conclude(connection, job, request_id, status, errors, item_errors)
            if authenticated is not None:
                await integrations.record_auth(
                    connection, write.integration_id, write.ciphertext, authenticated, utcnow()
                )

    async def _begin(self, connection: Executor, job: queue.ClaimedJob, write: WriteToSend) -> bool:
        """Mark the write dispatched (committed before sending); False when there is nothing to
        send: it was finished already, or its integration was deleted."""
        if write.finished:
            await queue.mark_succeeded(connection, job)
            return False
        if write.deleted:
            await conclude(
                connection,
                job,
                write.request_id,
                "REJECTED",
                ["The integration was deleted before the write was sent"],
            )
            return False
        await repository.set_dispatched(connection, write.request_id, True)
        return True

    async def _not_delivered(
        self, runtime: Runtime, job: queue.ClaimedJob, request_id: str, error: RetryableError
    ) -> None:
        """ResMan provably did not take it: clear the mark and try again later, or give up."""
        async with runtime.database.write_connection() as connection:
            await repository.set_dispatched(connection, request_id, False)
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
