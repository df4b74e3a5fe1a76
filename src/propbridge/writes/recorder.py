"""Group commit for accepted writes: requests that arrive together share one transaction.

SQLite admits one writer at a time, so recording each write in its own transaction caps the
API at one commit per round of statements. Here one task drains the queue of validated writes,
records the whole batch (dedupe included) in a single transaction, and only then answers every
waiting request: each 200 still goes out after its own rows are committed.

Single charges and payments come in unresolved and are checked against the store in that same
transaction: what the whole batch names (integrations, residents with their leases, charge codes)
and its dedupe keys are read in one statement, and its rows go in with one insert per table, on
the driver connection. Under load a pooled connection and a query per request cost more than the
rest of the request, and each statement of a batch is a hand-off (SQLite) or round trip
(PostgreSQL) every write of the batch waits for. A write refused gets its error; the others of
its batch are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from propbridge.api.errors import ApiError
from propbridge.auth.service import Principal
from propbridge.db.base import utcnow
from propbridge.db.engine import Database
from propbridge.db.ids import new_id
from propbridge.jobs.kinds import JobKind, WritePayload
from propbridge.jobs.queue import new_job_row
from propbridge.writes import repository, rules
from propbridge.writes.repository import SeenWrite
from propbridge.writes.rules import AcceptedWrite
from propbridge.writes.service import (
    WRITE_MAX_ATTEMPTS,
    BatchResolver,
    Needs,
    PendingWrite,
    item_references,
    write_to_retry,
)

MAX_BATCH = 256
# Commits a write refused by a constraint is tried again (each time after others took keys).
CONFLICT_ATTEMPTS = 3


@dataclass(frozen=True)
class Unresolved:
    """A write whose body is valid, to be checked against the store by `resolver` in the
    transaction that records it."""

    resolver: BatchResolver
    principal: Principal
    body: Any


Entry = PendingWrite | Unresolved
Waiter = tuple[Entry, "asyncio.Future[AcceptedWrite]"]


@dataclass
class NewRows:
    """The rows of the writes one transaction records: requests, their items, their jobs."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    references: list[dict[str, Any]] = field(default_factory=list)

    def add(self, pending: PendingWrite, account_key: str, now: datetime) -> str:
        """A write's rows (its references claimed in `account_key`); the id of the job that
        will carry it."""
        request_id, job_id = new_id(), new_id()
        self.requests.append(
            {
                "id": request_id,
                "integration_id": pending.integration_id,
                "account_key": account_key,
                "operation": pending.operation,
                "request_body": pending.body,
                "body_hash": pending.digest,
                "dedupe_key": pending.dedupe_key,
                "job_id": job_id,
                "errors": [],
                "retry_of": pending.retry_of,
                "retry_root": pending.retry_root,
                "created_at": now,
                "updated_at": now,
            }
        )
        self.items.extend(
            {**item, "id": new_id(), "write_request_id": request_id, "status": "PENDING"}
            for item in pending.items
        )
        self.jobs.append(
            new_job_row(
                JobKind.WRITE,
                WritePayload(write_request_id=request_id),
                integration_id=pending.integration_id,
                max_attempts=WRITE_MAX_ATTEMPTS,
                job_id=job_id,
            )
        )
        return job_id


class WriteRecorder:
    """Records validated writes with their jobs, many per transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queue: asyncio.Queue[Waiter] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def record(self, entry: Entry) -> AcceptedWrite:
        """Returns once the write and its job are committed (or the first identical one found);
        raises the refusal of an unresolved write the store does not admit."""
        future: asyncio.Future[AcceptedWrite] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((entry, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def retry(
        self, principal: Principal, root_job_id: str, outcome_checked: bool = False
    ) -> AcceptedWrite:
        """Retry a write: `write_to_retry` says what that means (the chain's live retry, a new
        numbered retry, or a refusal), and a new retry is recorded like any write."""
        async with self._database.read() as session:
            retry = await write_to_retry(session, principal, root_job_id, outcome_checked)
        if isinstance(retry, PendingWrite):
            return await self.record(retry)
        return retry

    async def _drain(self) -> None:
        while not self._queue.empty():
            batch = [self._queue.get_nowait()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await self._commit([entry for entry, _ in batch])
            except (IntegrityError, repository.WriteConflict, repository.WriteRefused):
                # Another process took a dedupe key in between, or the database refused one
                # write's values: settle one by one, so that only that write fails.
                outcomes = [await self._commit_alone(entry) for entry, _ in batch]
            except Exception as error:
                outcomes = [error] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def _commit_alone(self, entry: Entry) -> AcceptedWrite | BaseException:
        """One write in its own transaction. A constraint it broke was a key another process
        took after this one read it: a fresh read then sees that write, and answers as if it
        had been there all along (replay or 409)."""
        for _attempt in range(CONFLICT_ATTEMPTS):
            try:
                return (await self._commit([entry]))[0]
            except (IntegrityError, repository.WriteConflict):
                continue
            except Exception as error:
                return error
        return ApiError(409, "conflict", "The write conflicted with others; try again")

    async def _commit(self, batch: list[Entry]) -> list[AcceptedWrite | BaseException]:
        async with self._database.write_connection() as connection:
            driver = await repository.Driver.of(connection)
            async with driver.transaction():
                return await _record_batch(driver, batch)

    async def close(self) -> None:
        """Wait for queued writes to be recorded."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


async def _record_batch(
    driver: repository.Driver, batch: list[Entry]
) -> list[AcceptedWrite | BaseException]:
    """Resolve, dedupe and insert a batch in the transaction in effect: each entry's outcome.
    What the batch names, its dedupe keys and the claims on its references are read in one
    statement."""
    needs = Needs()
    for entry in batch:
        if isinstance(entry, Unresolved):
            needs.add(entry.resolver.needs(entry.body))
        else:
            needs.add_write(entry)
    found = await needs.read(driver)
    seen, claimed = found.seen, found.claimed
    outcomes: list[AcceptedWrite | BaseException] = []
    rows = NewRows()
    now = utcnow()
    for entry in batch:
        pending = (
            entry.resolver.settle(entry.principal, entry.body, found)
            if isinstance(entry, Unresolved)
            else entry
        )
        if isinstance(pending, ApiError):
            outcomes.append(pending)
            continue
        references = item_references(pending)
        first = seen.get(pending.dedupe_key) if pending.dedupe_key else None
        if first is not None:
            outcomes.append(
                rules.replay_or_conflict(
                    pending.digest,
                    first.job_id,
                    first.digest,
                    first.body,
                    references,
                    pending.items_field,
                )
            )
            continue
        account = found.accounts.get(pending.integration_id)
        if account is None:  # deleted since the write was resolved
            outcomes.append(rules.unknown_integration(pending.integration_id))
            continue
        claims = [(position, ref, rules.claim_of(account, ref)) for position, ref in references]
        # A reference another write used first (any route, batch id or integration of the
        # account; for a retry, another chain): that write's transaction, not this one's, so it
        # is not sent again.
        owner = pending.chain_job_id
        clashes = [
            rules.Clash(position, ref, claimed[claim])
            for position, ref, claim in claims
            if claimed.get(claim, owner) != owner
        ]
        if clashes:
            outcomes.append(rules.reference_taken(clashes, pending.items_field))
            continue
        job_id = rows.add(pending, account, now)
        if pending.dedupe_key is not None:
            seen[pending.dedupe_key] = SeenWrite(job_id, pending.digest, pending.body)
        # A first write claims its references; a retry's are its chain's, held by the chain's
        # first write, unless the integration has moved to another account since (then the
        # chain claims them there: that account's ledger is where this retry goes).
        holder = owner or job_id
        for claim in dict.fromkeys(claim for _, _, claim in claims):
            if claim not in claimed:
                claimed[claim] = holder
                rows.references.append(
                    {"account_key": claim[0], "reference": claim[1], "job_id": holder}
                )
        outcomes.append(AcceptedWrite(job_id, pending.body))
    await repository.record_writes(driver, rows.requests, rows.items, rows.jobs, rows.references)
    return outcomes
