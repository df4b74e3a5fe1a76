"""The `webhook_delivery` job: send a webhook's pending deliveries, oldest first, one at a time.

One job per webhook (its concurrency key) keeps deliveries in order: a delivery that fails
holds back the ones after it until it succeeds or is given up on (about a day of retries with
exponential backoff and jitter). Every attempt is recorded. Nothing is sent to a webhook that is
disabled or deleted; its pending deliveries are cancelled instead.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import structlog

from propbridge.db.base import utcnow
from propbridge.jobs import queue
from propbridge.jobs.retry import backoff_seconds
from propbridge.outbound import OutboundRefusedError
from propbridge.webhooks import repository
from propbridge.webhooks.events import ensure_delivery_job
from propbridge.webhooks.schemas import RESERVED_HEADERS
from propbridge.webhooks.sealing import unseal
from propbridge.webhooks.signing import signed_headers

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

# One attempt, from connecting to the last byte read, may take this long in all; of the answer,
# at most `MAX_RESPONSE_BYTES` are read (a receiver only needs to say 2xx).
ATTEMPT_DEADLINE_SECONDS = 10.0
MAX_RESPONSE_BYTES = 65_536
# What an attempt without an HTTP answer records. One text for a refused, reset, timed-out or
# non-HTTP endpoint, so that the delivery log cannot be used to probe ports.
NO_ANSWER = "no HTTP answer from the endpoint"
GIVE_UP_AFTER = timedelta(hours=24)
MAX_RETRY_SECONDS = 3600.0
PAGE = 100
# Attempts are recorded in groups of this many (one transaction each), and at every failure.
RECORD_EVERY = 20


@dataclass
class Outcome:
    """One attempt's result: the delivery's new values and the attempt's row."""

    delivery_id: str
    values: dict[str, Any]
    attempt: dict[str, Any]
    done: bool


async def _post(http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and read at most `MAX_RESPONSE_BYTES` of the answer; its status."""
    async with http.stream("POST", url, content=body, headers=headers) as response:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= MAX_RESPONSE_BYTES:
                break
        return response.status_code


def _after_attempt(
    runtime: Runtime, delivery: Any, began: datetime, status: int | None, error: str | None
) -> dict[str, Any]:
    """A delivery's new values after an attempt: delivered, given up on (a day after its first
    attempt), or due again after a backoff."""
    first = delivery.first_attempt_at or began
    attempts = delivery.attempts + 1
    delivered = status is not None and 200 <= status < 300
    if not delivered and error is None:
        error = f"HTTP {status}"
    values: dict[str, Any] = {
        "attempts": attempts,
        "first_attempt_at": first,
        "last_status_code": status,
        "last_error": error,
    }
    if delivered:
        values.update(state="delivered", delivered_at=utcnow())
    elif began - first >= GIVE_UP_AFTER:
        values.update(state="dead")
    else:
        first_retry = runtime.settings.webhook_first_retry_seconds
        delay = backoff_seconds(attempts - 1, base=first_retry, cap=MAX_RETRY_SECONDS)
        values.update(next_attempt_at=began + timedelta(seconds=delay))
        log.warning("webhook_delivery_failed", delivery_id=delivery.id, status=status, error=error)
    return values


class WebhookDeliveryHandler:
    """The `webhook_delivery` job kind."""

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: Any) -> None:
        webhook_id = job.payload["webhook_id"]
        http = runtime.webhook_http()
        while True:
            async with runtime.database.read_connection() as db:
                hook = await repository.webhook_for_delivery(db, webhook_id)
                due = await repository.due_deliveries(db, webhook_id, PAGE)
            if hook is None or not hook.active or hook.deleted_at is not None:
                await self._cancel_all(runtime, job, webhook_id)
                return
            secret, own_headers = unseal(
                runtime.cipher, webhook_id, hook.secret_ciphertext, hook.headers
            )
            blocked = False
            outcomes: list[Outcome] = []
            try:
                for delivery in due:
                    if delivery.next_attempt_at > utcnow():
                        blocked = True
                        break
                    outcome = await self._attempt(
                        runtime, http, hook.url, own_headers, secret, delivery
                    )
                    outcomes.append(outcome)
                    if len(outcomes) >= RECORD_EVERY:
                        await self._record(runtime, outcomes)
                        outcomes = []
                    if not outcome.done:
                        blocked = True  # a retry is scheduled; later deliveries wait for it
                        break
            finally:
                await self._record(runtime, outcomes)
            if await self._finished(runtime, job, webhook_id, bool(due) and not blocked):
                return

    async def _attempt(
        self,
        runtime: Runtime,
        http: httpx.AsyncClient,
        url: str,
        own_headers: list[dict[str, str]],
        secret: str,
        delivery: Any,
    ) -> Outcome:
        """Send one delivery; what became of it, to be recorded."""
        body = orjson.dumps(delivery.payload)
        headers = {
            h["header"]: h["value"]
            for h in own_headers
            if h["header"].lower() not in RESERVED_HEADERS
        }
        # The real time, not the product's clock: receivers check it against their own (±5 min).
        headers.update(signed_headers(secret, delivery.id, int(time.time()), body))
        # Times recorded are the attempt's start: how long an endpoint kept us waiting is not
        # told to the webhook's owner (a silent port would stand out from a closed one).
        began = utcnow()
        started, status, error = time.perf_counter(), None, None
        try:
            async with asyncio.timeout(ATTEMPT_DEADLINE_SECONDS):
                status = await _post(http, url, body, headers)
        except (httpx.HTTPError, OutboundRefusedError, TimeoutError, ValueError):
            # ValueError: a header no HTTP stack will send (saved before values were checked).
            error = NO_ANSWER
        latency = (time.perf_counter() - started) * 1000 if status is not None else None
        values = _after_attempt(runtime, delivery, began, status, error)
        attempt = {
            "delivery_id": delivery.id,
            "attempted_at": began,
            "status_code": status,
            "latency_ms": None if latency is None else round(latency, 2),
            "error": values["last_error"],
        }
        return Outcome(delivery.id, values, attempt, values.get("state") in ("delivered", "dead"))

    async def _record(self, runtime: Runtime, outcomes: list[Outcome]) -> None:
        """Record attempts in one transaction (a crash before it re-sends them, with the same
        `webhook-id`: delivery is at least once)."""
        if not outcomes:
            return
        async with runtime.database.write_connection() as db:
            await repository.record_attempts(
                db, [(o.delivery_id, o.values, o.attempt) for o in outcomes]
            )

    async def _finished(
        self, runtime: Runtime, job: queue.ClaimedJob, webhook_id: str, more_now: bool
    ) -> bool:
        """End the job unless deliveries are due now; if some are due later, queue the next
        job for then. Locks the webhook row, as `emit` does, so no new delivery is missed."""
        if more_now:
            return False
        async with runtime.database.write_connection() as db:
            await repository.lock_webhooks(db, [webhook_id])
            next_due = await repository.next_due(db, webhook_id)
            if next_due is not None and next_due <= utcnow():
                return False
            await queue.mark_succeeded(db, job)
            if next_due is not None:
                await ensure_delivery_job(db, webhook_id, run_after=next_due)
        return True

    async def _cancel_all(self, runtime: Runtime, job: queue.ClaimedJob, webhook_id: str) -> None:
        async with runtime.database.write_connection() as db:
            await repository.cancel_pending(db, webhook_id, "webhook disabled or deleted")
            await queue.mark_succeeded(db, job)

    async def recover(self, runtime: Runtime, session: AsyncSession, job: queue.ClaimedJob) -> None:
        """A worker died mid-run: deliveries are rows, so running again resumes them."""
        await queue.schedule_retry(session, job, "worker lost; deliveries resume", 0)
