"""Running a sync: page through a connector, upsert each page in its own transaction, record the run.

Called by the sync job handler (worker or CLI); it owns its transactions, one per page, so an
interrupted sync keeps what it wrote and the next run resumes without duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from sqlalchemy import update

from propbridge.connectors.base import RejectedError, RetryableError
from propbridge.connectors.registry import connector_for
from propbridge.db.base import utcnow
from propbridge.integrations.models import Integration
from propbridge.integrations.service import access_for, get_integration
from propbridge.jobs import queue
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.scheduler import run_finished
from propbridge.jobs.worker import RetryLater, fail_or_retry
from propbridge.sync.models import SyncCheckpoint, SyncRun
from propbridge.sync.upsert import MODEL_TABLES, ModelCounts, upsert_page
from propbridge.webhooks.events import Event, emit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

# Which connector feed fills each model a client can ask to sync.
MODEL_SOURCES = {
    "properties": "properties",
    "charge_codes": "charge_codes",
    "floor_plans": "floor_plans",
    "units": "units",
    "leases": "leases",
    "residents": "leases",
    "resident_charges": "transactions",
    "resident_payments": "transactions",
    "fees": "fees",
}

Progress = Callable[[str, int, int | None], None]
T = TypeVar("T")


def sources_for(models: list[str] | None, available: tuple[str, ...]) -> list[str]:
    """The connector feeds to read, in the connector's dependency order."""
    if not models:
        return list(available)
    wanted = {MODEL_SOURCES[m] for m in models} | {"properties"}
    return [m for m in available if m in wanted]


# Feeds read incrementally: the next read starts at the last completed one, minus a lookback
# so that late-posted transactions are not missed. The others are small and read whole.
INCREMENTAL_FEEDS = frozenset({"leases", "transactions"})


async def prefetched(pages: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """The pages of `pages`, the next one being fetched while the caller writes this one (the
    PMS builds its page while we upsert ours)."""
    pending: asyncio.Future[T] = asyncio.ensure_future(anext(pages))
    try:
        while True:
            try:
                page = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(pages))
            yield page
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending


async def _since(
    runtime: Runtime, integration_id: str, feed: str, lookback: timedelta
) -> datetime | None:
    if feed not in INCREMENTAL_FEEDS:
        return None
    async with runtime.database.read() as session:
        checkpoint = await session.get(SyncCheckpoint, (integration_id, feed))
    return None if checkpoint is None else checkpoint.fetched_from - lookback


async def _advance_checkpoint(
    runtime: Runtime, integration_id: str, feed: str, fetched_from: datetime
) -> None:
    """A feed read completely: the next incremental read may start from when this one began."""
    async with runtime.database.write() as session:
        checkpoint = await session.get(SyncCheckpoint, (integration_id, feed))
        if checkpoint is None:
            session.add(
                SyncCheckpoint(integration_id=integration_id, feed=feed, fetched_from=fetched_from)
            )
        else:
            checkpoint.fetched_from = fetched_from
            checkpoint.updated_at = utcnow()


async def _save_counts(runtime: Runtime, run_id: str, counts: dict[str, ModelCounts]) -> None:
    async with runtime.database.write() as session:
        await session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(counts={m: vars(c) for m, c in counts.items()})
        )


async def run_sync(runtime: Runtime, job: queue.ClaimedJob, progress: Progress | None) -> None:
    """Sync one integration and finish its job."""
    async with runtime.database.write() as session:
        integration = await get_integration(session, job.integration_id or "")
        if integration is None:
            await queue.mark_failed(session, job, "integration not found or deleted")
            return
        run = SyncRun(integration_id=integration.id, job_id=job.id, models=[])
        session.add(run)
        # Propexo sends no DATA_NEW / DATA_UPDATE during an integration's first sync.
        first_sync = integration.last_completed_sync is None
        access = access_for(runtime.cipher, integration, runtime.database)
        vendor = integration.vendor
    connector = connector_for(vendor, access, runtime.http())
    feeds = sources_for(job.payload.get("models"), connector.sync_models)
    counts: dict[str, ModelCounts] = {}
    bound = log.bind(integration_id=access.integration_id, job_id=job.id, sync_run_id=run.id)
    lookback = timedelta(hours=runtime.settings.sync_lookback_hours)
    reconciled = 0
    try:
        for feed in feeds:
            done = 0
            fetch_started = utcnow()
            since = await _since(runtime, access.integration_id, feed, lookback)
            async with contextlib.aclosing(prefetched(connector.fetch(feed, since))) as pages:
                async for page in pages:
                    async with runtime.database.write() as session:
                        result = await upsert_page(
                            session,
                            access.integration_id,
                            vendor,
                            page,
                            utcnow(),
                            notify=not first_sync,
                        )
                    for model, model_counts in result.counts.items():
                        counts.setdefault(model, ModelCounts()).add(model_counts)
                    reconciled += result.reconciled
                    done += len(page)
                    if progress:
                        progress(feed, done, None)
                    await _save_counts(runtime, run.id, counts)
            await _advance_checkpoint(runtime, access.integration_id, feed, fetch_started)
            bound.info("sync_feed_done", feed=feed, records=done, since=str(since))
    except RetryableError as error:
        final = (access.integration_id, vendor) if job.attempt >= job.max_attempts else None
        await _end_run(runtime, run.id, "failed", error.message, final)
        raise RetryLater(error.message, error.retry_after) from error
    except RejectedError as error:
        await _end_run(runtime, run.id, "failed", error.message, (access.integration_id, vendor))
        await fail_or_retry(runtime, _last_attempt(job), error.message)
        return
    async with runtime.database.write() as session:
        await _finish(session, run.id, access.integration_id, counts)
        trigger = "FIRST_SYNC_COMPLETE" if first_sync else "SYNC_COMPLETE"
        payload = {
            "event": trigger,
            "integration_id": access.integration_id,
            "vendor": vendor,
            "is_sync_finished": True,
            "successful_job_count": 1,
            "failed_job_count": 0,
            "sync_run_id": run.id,
            "counts": {m: vars(c) for m, c in counts.items()},
        }
        await emit(session, [Event(trigger, access.integration_id, payload)])
        await queue.mark_succeeded(
            session,
            job,
            {
                "sync_run_id": run.id,
                "counts": {m: vars(c) for m, c in counts.items()},
                "reconciled": reconciled,
            },
        )
    written = sorted(MODEL_TABLES[m].__tablename__ for m, c in counts.items() if c.new or c.updated)
    if written:
        await runtime.database.refresh_statistics(written)
    bound.info("sync_finished", counts={m: vars(c) for m, c in counts.items()})


def _last_attempt(job: queue.ClaimedJob) -> queue.ClaimedJob:
    """The same job with no attempts left, so it fails at once (a rejection will not heal)."""
    return queue.ClaimedJob(
        job.id, job.kind, job.integration_id, job.payload, job.attempt, job.attempt
    )


async def _finish(
    session: AsyncSession, run_id: str, integration_id: str, counts: dict[str, ModelCounts]
) -> None:
    now = utcnow()
    await session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id)
        .values(
            state="succeeded",
            finished_at=now,
            counts={m: vars(c) for m, c in counts.items()},
            models=sorted(counts),
        )
    )
    await session.execute(
        update(Integration).where(Integration.id == integration_id).values(last_completed_sync=now)
    )
    await run_finished(session, integration_id, JobKind.SYNC)


async def _end_run(
    runtime: Runtime,
    run_id: str,
    state: str,
    error: str,
    final: tuple[str, str] | None = None,
) -> None:
    """Record how a run ended; a `final` failure (integration, vendor) is a JOB_FAILURE event."""
    async with runtime.database.write() as session:
        await session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(state=state, error=error, finished_at=utcnow())
        )
        if final is not None:
            payload = {
                "event": "JOB_FAILURE",
                "integration_id": final[0],
                "vendor": final[1],
                "job_type": "SYNC",
                "sync_run_id": run_id,
                "error": error,
            }
            await emit(session, [Event("JOB_FAILURE", final[0], payload)])


class SyncJobHandler:
    """The `sync` job kind."""

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: Any) -> None:
        await run_sync(runtime, job, progress)

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        """A sync is idempotent (upserts by natural key): run it again."""
        if job.attempt < job.max_attempts:
            await queue.schedule_retry(session, job, "worker lost; sync restarted", 0)
        else:
            await queue.mark_failed(session, job, "worker lost too many times")
