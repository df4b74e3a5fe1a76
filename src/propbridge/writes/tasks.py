"""The `write` job: post a write's transactions to the PMS once, and record what became of them.

The document is marked dispatched (and committed) before it is sent, so a crash mid-post is
known: such a write is reported OUTCOME_UNKNOWN, never sent again blindly (SPEC §4).

This runs once per charge and is the worker's hot path, so the jobs a worker runs at once share
their transactions (`GroupCommit`): the writes of the jobs claimed together are loaded, marked
dispatched and their PMS requests counted in the claim's transaction (`begin`), committed before
any of them is sent; the outcomes of the jobs ending together are recorded in one transaction,
which also claims the jobs that take their slots. Statements are Core and built once, each run
once per group for all its writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from propbridge.connectors.base import (
    AuthenticationError,
    Connector,
    IntegrationAccess,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
)
from propbridge.connectors.registry import connector_for
from propbridge.db.base import utcnow
from propbridge.integrations import repository as integrations
from propbridge.integrations.request_budget import RequestBudget
from propbridge.jobs import queue
from propbridge.jobs.group_commit import GroupCommit
from propbridge.jobs.retry import backoff_seconds
from propbridge.webhooks.events import Event, emit, listeners
from propbridge.writes import repository
from propbridge.writes.presenters import transaction_to_post

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from propbridge.db.engine import Executor
    from propbridge.runtime import Runtime

log = structlog.get_logger(__name__)

UNKNOWN_ADVICE = (
    "The document may have reached ResMan; check its Partner Transactions before "
    "retrying, or wait for the next sync, which reconciles it if it was taken."
)
# A write marked sent whose outcome was never recorded (a worker stopped mid-post, or the
# transaction recording ResMan's answer failed).
LOST_OUTCOME = (
    "Outcome unknown: the write was being posted to ResMan when its worker lost track of it. "
    + UNKNOWN_ADVICE
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
    claimed_in: str = ""  # the PMS account its references were claimed in
    account_key: str = ""  # the account its integration acts on now
    request_frequency: int = 1
    request_cadence: str = "SECOND"

    def refusal(self) -> str | None:
        """Why this write, accepted earlier, must not be sent now: its integration was pointed
        at another PMS account since (its references are claimed in the first, and the new
        one's ledger may hold them already), or another write of the account holds one of its
        references (the upgrade to per-account claims found both)."""
        if self.account_key != self.claimed_in:
            return (
                "Not sent: its integration was pointed at another PMS account (base URL or "
                "AccountID) after this write was accepted, and its references were claimed in "
                "the first. Post it again if it belongs in the new account."
            )
        held = [item for item in self.items if item.held_by_job_id is not None]
        if not held:
            return None
        named = ", ".join(f"{i.reference_number} (job {i.held_by_job_id})" for i in held[:5])
        return (
            f"Not sent: its reference is held by another write of this PMS account: {named}. "
            "See `propbridge doctor`."
        )


async def _load(executor: Executor, request_id: str) -> WriteToSend:
    return _write(request_id, *await repository.write_to_send(executor, request_id))


def _write(request_id: str, row: Any, items: list[Any]) -> WriteToSend:
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
        claimed_in=row.claimed_in,
        account_key=row.account_key,
        request_frequency=row.max_request_frequency,
        request_cadence=row.max_request_cadence,
    )


@dataclass(frozen=True)
class Conclusion:
    """How one write ended: its items' status, its errors, and each culprit's (by index)."""

    job: queue.ClaimedJob
    request_id: str
    status: str
    errors: list[str]
    item_errors: dict[int, str] | None = None


async def conclude(
    executor: Executor,
    job: queue.ClaimedJob,
    request_id: str,
    status: str,
    errors: list[str],
    item_errors: dict[int, str] | None = None,
) -> None:
    """Record the outcome of every item and end the job, in the caller's one transaction."""
    await conclude_all(executor, [Conclusion(job, request_id, status, errors, item_errors)])


async def conclude_all(executor: Executor, conclusions: Sequence[Conclusion]) -> None:
    """`conclude` for several writes, in the caller's one transaction."""
    outcomes: list[repository.Outcome] = []
    endings: list[tuple[queue.ClaimedJob, str, str | None]] = []
    for c in conclusions:
        item_error = c.errors[0] if c.errors and c.status != "ACCEPTED" else None
        if c.item_errors:
            item_error = WITH_OTHERS  # the PMS named the culprits
        outcomes.append(
            repository.Outcome(c.request_id, c.status, item_error, c.item_errors or {}, c.errors)
        )
        if c.status == "ACCEPTED":
            endings.append((c.job, "succeeded", None))
        else:
            endings.append((c.job, "failed", c.errors[0] if c.errors else c.status))
    await repository.record_outcomes(executor, outcomes)
    await queue.finish_many(executor, endings)
    await _report(executor, conclusions)


async def _report(executor: Executor, conclusions: Sequence[Conclusion]) -> None:
    """The writes' outcomes as webhook events, in the transaction that records them (the
    listeners looked up once for all of them)."""
    hooks = await listeners(executor)
    if not hooks:
        return
    events: list[Event] = []
    for c in conclusions:
        row = await repository.write_origin(executor, c.request_id)
        succeeded = c.status == "ACCEPTED"
        trigger = "WRITE_OPERATION_SUCCESS" if succeeded else "WRITE_OPERATION_FAILURE"
        payload = {
            "event": trigger,
            "integration_id": row.id,
            "vendor": row.vendor,
            "root_job_id": c.job.id,
            "operation": row.operation,
            "write_status": "SUCCESS" if succeeded else "FAILURE",
            "errors": c.errors,
        }
        events.append(Event(trigger, row.id, payload))
    await emit(executor, events, hooks)


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


@dataclass(frozen=True)
class _Started:
    """A write its job may send now (its dispatched mark is committed), and the PMS requests
    counted for it in that transaction (`units` of `window`, to credit to `budget`)."""

    write: WriteToSend
    connector: Connector
    budget: RequestBudget
    window: int = -1
    units: int = 0


@dataclass(frozen=True)
class _Begun:
    """A job started in a transaction: the write it sends, or None when the job has ended in
    that transaction (nothing to send)."""

    started: _Started | None


@dataclass(frozen=True)
class _Ended:
    """A sent write's conclusion, and what the PMS's answer said of the credentials used
    (integration, credentials, taken), when it said anything."""

    conclusion: Conclusion
    auth: tuple[str, bytes, bool] | None


class _Sending:
    """The write jobs' steps, and what the jobs of one worker share: each integration's request
    budget (one holder per integration, so that jobs spend units counted together)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._budgets: dict[tuple[str, int, str], RequestBudget] = {}

    def budget(self, write: WriteToSend) -> RequestBudget:
        key = (write.integration_id, write.request_frequency, write.request_cadence)
        budget = self._budgets.get(key)
        if budget is None:
            if len(self._budgets) > 1000:  # integrations come and go; limits change
                self._budgets.clear()
            budget = RequestBudget(self.runtime.database, *key)
            self._budgets[key] = budget
        return budget

    async def start(
        self, connection: AsyncConnection, jobs: list[queue.ClaimedJob]
    ) -> list[_Begun]:
        """Load the writes of jobs starting together; end the jobs with nothing to send (the
        write was finished already, or its integration was deleted); mark the others
        dispatched and count a PMS request for each."""
        begun = await self._begin(connection, jobs, tolerant=False)
        return [b for b in begun if b is not None]  # none is None: errors were raised

    async def begin(
        self, connection: AsyncConnection, jobs: list[queue.ClaimedJob]
    ) -> list[_Begun | None]:
        """`start`, in the transaction that claims the jobs. A job that cannot be started (its
        write is missing, its credentials cannot be read…) is left out (None): it starts in its
        own run, which fails it as it should."""
        return await self._begin(connection, jobs, tolerant=True)

    async def _begin(
        self, connection: AsyncConnection, jobs: list[queue.ClaimedJob], *, tolerant: bool
    ) -> list[_Begun | None]:
        found = await repository.writes_to_send(
            connection, [job.payload["write_request_id"] for job in jobs]
        )
        begun: list[_Begun | None] = []
        finished: list[queue.ClaimedJob] = []
        per_budget: dict[RequestBudget, list[int]] = {}
        for job in jobs:
            request_id = job.payload["write_request_id"]
            try:
                if request_id not in found:
                    raise LookupError(f"write request {request_id} is missing")
                write = _write(request_id, *found[request_id])
                if not (write.finished or write.deleted):
                    # Everything that can fail before sending fails here, before the mark.
                    budget = self.budget(write)
                    access = IntegrationAccess(
                        write.integration_id,
                        write.base_url,
                        self.runtime.cipher.decrypt(write.integration_id, write.ciphertext),
                        budget,
                    )
                    connector = connector_for(write.vendor, access, self.runtime.http())
            except Exception:
                if not tolerant:
                    raise
                begun.append(None)
                continue
            if write.finished:
                finished.append(job)
                begun.append(_Begun(None))
            elif write.deleted:
                await conclude(
                    connection,
                    job,
                    request_id,
                    "REJECTED",
                    ["The integration was deleted before the write was sent"],
                )
                begun.append(_Begun(None))
            elif write.dispatched:
                # An earlier attempt was marked sent and its outcome never recorded (its
                # conclusion failed after the post): it may be in ResMan, so never sent again.
                await conclude(connection, job, request_id, "OUTCOME_UNKNOWN", [LOST_OUTCOME])
                begun.append(_Begun(None))
            elif (refused := write.refusal()) is not None:
                await conclude(connection, job, request_id, "REJECTED", [refused])
                begun.append(_Begun(None))
            else:
                per_budget.setdefault(budget, []).append(len(begun))
                begun.append(_Begun(_Started(write, connector, budget)))
        await queue.finish_many(connection, [(job, "succeeded", None) for job in finished])
        await repository.set_dispatched_many(
            connection,
            [b.started.write.request_id for b in begun if b is not None and b.started is not None],
            True,
        )
        for budget, indexes in per_budget.items():
            missing = len(indexes) - budget.in_hand()
            if missing <= 0:
                continue  # units counted ahead by an earlier group are waiting for them
            window, units = await budget.reserve(connection, budget.units_for(missing))
            first = begun[indexes[0]]
            assert first is not None and first.started is not None
            begun[indexes[0]] = _Begun(replace(first.started, window=window, units=units))
        return begun

    async def end(self, connection: AsyncConnection, ended: list[_Ended]) -> list[None]:
        """Record how sent writes ended and end their jobs; note what the PMS said of the
        credentials (once per integration and answer, the last answer last)."""
        await conclude_all(connection, [e.conclusion for e in ended])
        answers: dict[tuple[str, bytes, bool], None] = {}
        for e in ended:
            if e.auth is not None:
                answers.pop(e.auth, None)
                answers[e.auth] = None
        for integration_id, credentials, taken in answers:
            await integrations.record_auth(connection, integration_id, credentials, taken, utcnow())
        return [None] * len(ended)


class WriteJobHandler:
    """The `write` job kind."""

    def __init__(self) -> None:
        self._sending: _Sending | None = None

    def _sending_for(self, runtime: Runtime) -> _Sending:
        if self._sending is None or self._sending.runtime is not runtime:
            self._sending = _Sending(runtime)
        return self._sending

    async def begin(
        self, runtime: Runtime, connection: AsyncConnection, jobs: list[queue.ClaimedJob]
    ) -> list[object]:
        """Start the claimed writes in the claim's transaction (the worker's `ClaimHook`): it
        commits their dispatched marks with the claim, before any of them is sent."""
        return list(await self._sending_for(runtime).begin(connection, jobs))

    async def run(self, runtime: Runtime, job: queue.ClaimedJob, progress: Any) -> None:
        request_id = job.payload["write_request_id"]
        bound = log.bind(
            job_id=job.id, integration_id=job.integration_id, write_request_id=request_id
        )
        sending = self._sending_for(runtime)
        group = GroupCommit.of(runtime.database)
        begun = job.prepared
        if not isinstance(begun, _Begun):
            # Not started in its claim's transaction: now, with the jobs starting now. Returns
            # once the dispatched mark is committed: only then may the document go out.
            begun = await group.run(sending.start, job)
        started = begun.started
        if started is None:
            return
        started.budget.credit(started.window, started.units)
        write = started.write
        item_errors: dict[int, str] | None = None
        # Whether the PMS took the credentials: known when it accepted the document or refused
        # the credentials; a rejected document or an unknown outcome does not tell.
        authenticated: bool | None = None
        try:
            await started.connector.post_transactions(
                write.items[0].x_property_id, [transaction_to_post(item) for item in write.items]
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
        auth = None
        if authenticated is not None:
            auth = (write.integration_id, write.ciphertext, authenticated)
        conclusion = Conclusion(job, request_id, status, errors, item_errors)
        # The job's last step: its worker may start the next job in the same transaction.
        await group.run(sending.end, _Ended(conclusion, auth), ends=job.id)

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
                [LOST_OUTCOME],
            )
