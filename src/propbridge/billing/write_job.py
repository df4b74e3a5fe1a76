"""The `write` job: post a write's transactions to the PMS once, and record what became of them.

The document is marked dispatched (and committed) before it is sent, so a crash mid-post is
known: such a write is reported OUTCOME_UNKNOWN, never sent again blindly (SPEC §4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select

from propbridge.billing.models import WriteItem, WriteRequest
from propbridge.connectors.base import (
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
    TransactionToPost,
)
from propbridge.connectors.registry import connector_for
from propbridge.db.base import utcnow
from propbridge.integrations.service import access_for, get_integration
from propbridge.jobs import queue
from propbridge.jobs.retry import backoff_seconds

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

UNKNOWN_ADVICE = (
    "The document may have reached ResMan; check its Partner Transactions before "
    "retrying, or wait for the next sync, which reconciles it if it was taken."
)


async def _load(
    session: AsyncSession, write_request_id: str
) -> tuple[WriteRequest, list[WriteItem]]:
    request = await session.get(WriteRequest, write_request_id)
    if request is None:
        raise LookupError(f"write request {write_request_id} is missing")
    items = list(
        (
            await session.execute(
                select(WriteItem)
                .where(WriteItem.write_request_id == request.id)
                .order_by(WriteItem.position)
            )
        ).scalars()
    )
    return request, items


def _to_post(item: WriteItem) -> TransactionToPost:
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


async def _conclude(
    session: AsyncSession,
    job: queue.ClaimedJob,
    request: WriteRequest,
    items: list[WriteItem],
    status: str,
    errors: list[str],
    item_errors: dict[int, str] | None = None,
) -> None:
    """Record the outcome of every item and end the job, in one transaction."""
    for item in items:
        item.status = status
        item.error = (item_errors or {}).get(item.position) or (
            errors[0] if errors and status != "ACCEPTED" else None
        )
    request.errors = errors
    request.finished_at = utcnow()
    request.updated_at = utcnow()
    if status == "ACCEPTED":
        await queue.mark_succeeded(session, job)
    else:
        await queue.mark_failed(session, job, errors[0] if errors else status)


class WriteJobHandler:
    """The `write` job kind."""

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: Any) -> None:
        request_id = job.payload["write_request_id"]
        bound = log.bind(
            job_id=job.id, integration_id=job.integration_id, write_request_id=request_id
        )
        async with runtime.database.write() as session:
            request, items = await _load(session, request_id)
            if request.finished_at is not None:
                await queue.mark_succeeded(session, job)
                return
            integration = await get_integration(session, request.integration_id)
            if integration is None:
                await _conclude(
                    session,
                    job,
                    request,
                    items,
                    "REJECTED",
                    ["The integration was deleted before the write was sent"],
                )
                return
            access = access_for(runtime.cipher, integration)
            vendor = integration.vendor
            request.dispatched_at = utcnow()
        transactions = [_to_post(item) for item in items]
        connector = connector_for(vendor, access, runtime.http())
        try:
            await connector.post_transactions(items[0].x_property_id, transactions)
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
        bound.info("write_accepted", transactions=len(items))

    async def _end(
        self,
        runtime: Runtime,
        job: queue.ClaimedJob,
        request_id: str,
        status: str,
        errors: list[str],
        item_errors: dict[int, str] | None = None,
    ) -> None:
        async with runtime.database.write() as session:
            request, items = await _load(session, request_id)
            await _conclude(session, job, request, items, status, errors, item_errors)

    async def _not_delivered(
        self, runtime: Runtime, job: queue.ClaimedJob, request_id: str, error: RetryableError
    ) -> None:
        """ResMan provably did not take it: clear the mark and try again later, or give up."""
        async with runtime.database.write() as session:
            request, items = await _load(session, request_id)
            request.dispatched_at = None
            if job.attempt < job.max_attempts:
                await queue.schedule_retry(
                    session, job, error.message, backoff_seconds(job.attempt, error.retry_after)
                )
            else:
                await _conclude(
                    session,
                    job,
                    request,
                    items,
                    "REJECTED",
                    [f"Not delivered after {job.attempt} attempts: {error.message}"],
                )

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        """A worker died holding this write: re-queue only if it had not started sending."""
        request, items = await _load(session, job.payload["write_request_id"])
        if request.finished_at is not None:
            await queue.mark_succeeded(session, job)
        elif request.dispatched_at is None:
            await queue.schedule_retry(session, job, "worker lost before sending", 0)
        else:
            await _conclude(
                session,
                job,
                request,
                items,
                "OUTCOME_UNKNOWN",
                [f"Outcome unknown: the worker stopped while posting to ResMan. {UNKNOWN_ADVICE}"],
            )
