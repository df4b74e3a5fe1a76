"""Running a sync: page through a connector, upsert each page in its own transaction, record the run.

Called by the sync job (`tasks.py`, in a worker or the CLI); it owns its transactions, one per
page, so an interrupted sync keeps what it wrote and the next run resumes without duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from propbridge.api.listing import ListQuery, run_list
from propbridge.connectors.base import (
    AuthenticationError,
    Connector,
    RejectedError,
    RetryableError,
)
from propbridge.connectors.registry import connector_for
from propbridge.db.base import isoformat_z, utcnow
from propbridge.db.engine import Executor
from propbridge.integrations import repository as integrations
from propbridge.integrations.service import access_for
from propbridge.jobs import queue
from propbridge.jobs.kinds import JobKind
from propbridge.jobs.scheduler import run_finished
from propbridge.jobs.worker import RetryLater, fail_or_retry
from propbridge.sync import repository
from propbridge.sync.models import SyncRun
from propbridge.sync.upsert import ModelCounts, upsert_page
from propbridge.webhooks.events import Event, emit
from propbridge.writes.reconcile import unconfirm_overdue

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

Progress = Callable[[str, int, int | None], None]
T = TypeVar("T")


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
        fetched_from = await repository.checkpoint(session, integration_id, feed)
    return None if fetched_from is None else fetched_from - lookback


async def _advance_checkpoint(
    runtime: Runtime, run: Run, feed: str, fetched_from: datetime
) -> None:
    """A feed was read to its end: the next read starts where this one did. A ledger feed
    read whole since then also tells which accepted writes it should have found by now."""
    async with runtime.database.write() as session:
        await repository.advance_checkpoint(
            session, run.integration_id, feed, fetched_from, utcnow()
        )
        if feed in runtime.synced_models.reconciling_feeds:
            overdue = timedelta(days=runtime.settings.unconfirmed_after_days)
            run.unconfirmed += await unconfirm_overdue(
                session, run.integration_id, fetched_from - overdue
            )


def _counted(counts: dict[str, ModelCounts]) -> dict[str, dict[str, int]]:
    return {m: vars(c) for m, c in counts.items()}


async def _save_counts(runtime: Runtime, run_id: str, counts: dict[str, ModelCounts]) -> None:
    async with runtime.database.write() as session:
        await repository.update_run(session, run_id, counts=_counted(counts))


@dataclass
class Run:
    """What a running sync knows: its record, its integration (and the sealed credentials it
    calls the PMS with), and what it has done so far."""

    id: str
    integration_id: str
    vendor: str
    first_sync: bool
    credentials: bytes
    counts: dict[str, ModelCounts] = field(default_factory=dict)
    reconciled: int = 0
    unconfirmed: int = 0
    # The PMS has answered a call of this run: the credentials work (recorded once per run).
    authenticated: bool = False


async def _begin(runtime: Runtime, job: queue.ClaimedJob) -> tuple[Run, Connector] | None:
    """The run's record and a connector for its integration; None (and the job failed) when
    the integration is gone."""
    async with runtime.database.write() as session:
        integration = await integrations.live_integration(session, job.integration_id or "")
        if integration is None:
            await queue.mark_failed(session, job, "integration not found or deleted")
            return None
        record = await repository.start_run(session, integration.id, job.id, utcnow())
        # Propexo sends no DATA_NEW / DATA_UPDATE during an integration's first sync.
        run = Run(
            record.id,
            integration.id,
            integration.vendor,
            first_sync=integration.last_completed_sync is None,
            credentials=integration.credentials_ciphertext,
        )
        access = access_for(runtime.cipher, integration, runtime.database)
    return run, connector_for(run.vendor, access, runtime.http())


async def _read_feed(
    runtime: Runtime, connector: Connector, run: Run, feed: str, progress: Progress | None
) -> int:
    """Read one feed to its end, a page per transaction; how many records it gave."""
    done = 0
    fetch_started = utcnow()
    lookback = timedelta(hours=runtime.settings.sync_lookback_hours)
    since = await _since(runtime, run.integration_id, feed, lookback)
    async with contextlib.aclosing(prefetched(connector.fetch(feed, since))) as pages:
        async for page in pages:
            async with runtime.database.write() as session:
                result = await upsert_page(
                    session,
                    runtime.synced_models,
                    run.integration_id,
                    run.vendor,
                    page,
                    utcnow(),
                    notify=not run.first_sync,
                )
                if not run.authenticated:
                    await integrations.record_auth(
                        session, run.integration_id, run.credentials, True, utcnow()
                    )
            run.authenticated = True
            for model, model_counts in result.counts.items():
                run.counts.setdefault(model, ModelCounts()).add(model_counts)
            run.reconciled += result.reconciled
            done += len(page)
            if progress:
                progress(feed, done, None)
            await _save_counts(runtime, run.id, run.counts)
    await _advance_checkpoint(runtime, run, feed, fetch_started)
    return done


INTERRUPTED = "the sync was interrupted (Ctrl-C or the worker stopping); it is queued again"


async def run_sync(runtime: Runtime, job: queue.ClaimedJob, progress: Progress | None) -> None:
    """Sync one integration and finish its job."""
    begun = await _begin(runtime, job)
    if begun is None:
        return
    run, connector = begun
    bound = log.bind(integration_id=run.integration_id, job_id=job.id, sync_run_id=run.id)
    try:
        for feed in runtime.synced_models.feeds(job.payload.get("models"), connector.sync_models):
            done = await _read_feed(runtime, connector, run, feed, progress)
            bound.info("sync_feed_done", feed=feed, records=done)
    except RetryableError as error:
        final = job.attempt >= job.max_attempts
        await _end_run(runtime, run, error.message, final)
        raise RetryLater(error.message, error.retry_after) from error
    except RejectedError as error:
        refused = isinstance(error, AuthenticationError)
        await _end_run(runtime, run, error.message, True, auth_refused=refused)
        await fail_or_retry(runtime, _last_attempt(job), error.message)
        return
    except asyncio.CancelledError:
        # Ctrl-C in `propbridge sync`, or a worker stopping: the run ends now and the job goes
        # back to the queue at once, rather than both waiting for the lease to run out.
        try:
            await _end_run(runtime, run, INTERRUPTED, False)
            async with runtime.database.write() as session:
                await queue.schedule_retry(session, job, INTERRUPTED, 0)
        except Exception:
            bound.exception("sync_run_not_ended")
        raise
    except Exception as error:
        # The worker ends the job (retried or failed); the run must not stay "running".
        try:
            final = job.attempt >= job.max_attempts
            await _end_run(runtime, run, f"{type(error).__name__}: {error}", final)
        except Exception:
            bound.exception("sync_run_not_ended")
        raise
    async with runtime.database.write() as session:
        await _finish(session, job, run)
    written = sorted(
        runtime.synced_models[m].table.__tablename__
        for m, c in run.counts.items()
        if c.new or c.updated
    )
    if written:
        await runtime.database.refresh_statistics(written)
    bound.info("sync_finished", counts=_counted(run.counts))


def _last_attempt(job: queue.ClaimedJob) -> queue.ClaimedJob:
    """The same job with no attempts left, so it fails at once (a rejection will not heal)."""
    return queue.ClaimedJob(
        job.id, job.kind, job.integration_id, job.payload, job.attempt, job.attempt
    )


async def _finish(session: AsyncSession, job: queue.ClaimedJob, run: Run) -> None:
    """The run succeeded: its record, the integration's last sync, the event, the job."""
    now = utcnow()
    counts = _counted(run.counts)
    await repository.update_run(
        session, run.id, state="succeeded", finished_at=now, counts=counts, models=sorted(counts)
    )
    await integrations.mark_synced(session, run.integration_id, now)
    await integrations.record_auth(session, run.integration_id, run.credentials, True, now)
    await run_finished(session, run.integration_id, JobKind.SYNC)
    trigger = "FIRST_SYNC_COMPLETE" if run.first_sync else "SYNC_COMPLETE"
    payload = {
        "event": trigger,
        "integration_id": run.integration_id,
        "vendor": run.vendor,
        "is_sync_finished": True,
        "successful_job_count": 1,
        "failed_job_count": 0,
        "sync_run_id": run.id,
        "counts": counts,
    }
    await emit(session, [Event(trigger, run.integration_id, payload)])
    result = {
        "sync_run_id": run.id,
        "counts": counts,
        "reconciled": run.reconciled,
        "unconfirmed": run.unconfirmed,
    }
    await queue.mark_succeeded(session, job, result)


async def _end_run(
    runtime: Runtime, run: Run, error: str, final: bool, *, auth_refused: bool = False
) -> None:
    """Record that a run failed (`auth_refused`: because the PMS refused the credentials);
    a `final` failure is a JOB_FAILURE event."""
    async with runtime.database.write() as session:
        now = utcnow()
        await repository.update_run(session, run.id, state="failed", error=error, finished_at=now)
        if auth_refused:
            await integrations.record_auth(session, run.integration_id, run.credentials, False, now)
        if final:
            payload = {
                "event": "JOB_FAILURE",
                "integration_id": run.integration_id,
                "vendor": run.vendor,
                "job_type": "SYNC",
                "sync_run_id": run.id,
                "error": error,
            }
            await emit(session, [Event("JOB_FAILURE", run.integration_id, payload)])


RUN_ORDERABLE = {
    "started_at": SyncRun.started_at,
    "finished_at": SyncRun.finished_at,
    "id": SyncRun.id,
    "state": SyncRun.state,
}


def worker_stopped(run: Any, now: datetime) -> bool:
    """A run still marked running whose worker is gone: its job ended or went back to the
    queue without ending it, started a later run, or stopped renewing its lease (the worker
    died or hung). No reaper needs to have run for this to show."""
    if run.state != "running":
        return False
    if run.job_state != "running" or run.superseded:
        return True
    lease = run.job_lease_expires_at
    return lease is not None and lease < now


def present_run(run: Any, now: datetime) -> dict[str, Any]:
    """One sync run as `sync-runs` lists it; one whose worker stopped shows as failed (its
    `finished_at` stays null: when the worker died is not known)."""
    stopped = worker_stopped(run, now)
    return {
        "id": run.id,
        "job_id": run.job_id,
        "state": "failed" if stopped else run.state,
        "counts": run.counts,
        "error": repository.WORKER_STOPPED if stopped else run.error,
        "started_at": isoformat_z(run.started_at),
        "finished_at": isoformat_z(run.finished_at),
    }


async def list_runs(db: Executor, integration_id: str, query: ListQuery) -> dict[str, Any]:
    """A page of an integration's sync runs: when, how they ended, counts per model."""
    statement = repository.runs_statement(integration_id)
    rows, meta = await run_list(db, statement, query, RUN_ORDERABLE)
    now = utcnow()
    return {"meta": meta, "results": [present_run(run, now) for run in rows]}
