"""Group commit: the database steps of a worker's jobs (and its claims), in shared transactions.

A job hands a step (an operation and its argument) to `GroupCommit.run` and gets the step's
result back once the transaction that ran it has committed. Steps handed in while a transaction
is under way wait for the next one, which takes them all: the jobs running at once pay one
transaction (and on SQLite one turn of the write lock) per group instead of one each, and an
operation runs once per group with the arguments of all its steps, so it can use one statement
for all of them. The worker's claim is a step too, run after the others of its group (`last`).
A job's last step says so (`ends`): its worker is then asked (`refill`) for a claim to take the
job's slot in that same group, so that a new job starts as soon as the transaction that ends
the old one commits, with no transaction (and no wait) of its own.

Ordering holds as with a transaction per step: `run` returns after the commit, so a job's next
move (sending a document it has just marked dispatched) happens after its step is durable. A
step that fails fails alone: when a group's transaction fails, its steps run again one
transaction each, and only the failing step raises (an operation must therefore have no effect
outside its transaction: results are returned, never kept aside). A step whose job was cancelled
before its group started is dropped; once its group started, it runs and commits with it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from propbridge.db.engine import Database

A = TypeVar("A")
R = TypeVar("R")

# An operation: given the group's transaction and the arguments of its steps in that group (in
# the order they were handed in), the result of each step in the same order.
Operation = Callable[[AsyncConnection, list[A]], Awaitable[list[R]]]

# Steps per transaction at most: a group should not hold SQLite's write lock for long.
GROUP_LIMIT = 64


@dataclass
class _Step(Generic[A, R]):
    operation: Operation[A, R]
    argument: A
    result: asyncio.Future[R]
    ends: str | None = None  # the job this step is the last of


@dataclass(frozen=True)
class Extra(Generic[A, R]):
    """A step a refill adds to a group (run last in it); its result goes to `result`."""

    operation: Operation[A, R]
    argument: A
    result: asyncio.Future[R]


# Asked with the ids of the jobs a group ends: a step to add to that group, or None.
Refill = Callable[[list[str]], "Extra[Any, Any] | None"]


class GroupCommit:
    """Runs the steps handed to it in shared transactions of `database`, one group at a time."""

    def __init__(self, database: Database, limit: int = GROUP_LIMIT) -> None:
        self.database = database
        self._limit = limit
        self._waiting: list[_Step[Any, Any]] = []
        self._last: set[Operation[Any, Any]] = set()
        self._committer: asyncio.Task[None] | None = None
        self._refills: list[Refill] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def of(cls, database: Database) -> GroupCommit:
        """The group commit of this database in the running event loop: a worker's claims and
        its jobs' steps share it, so they share transactions."""
        loop = asyncio.get_running_loop()
        shared = _SHARED.get(database)
        if shared is None or shared._loop is not loop:
            shared = cls(database)
            shared._loop = loop
            _SHARED[database] = shared
        return shared

    def add_refill(self, refill: Refill) -> None:
        """Ask `refill` for a step to add to each group that ends jobs (a worker's claim)."""
        self._refills.append(refill)

    def remove_refill(self, refill: Refill) -> None:
        """Stop asking `refill`."""
        if refill in self._refills:
            self._refills.remove(refill)

    async def run(
        self,
        operation: Operation[A, R],
        argument: A,
        *,
        last: bool = False,
        ends: str | None = None,
    ) -> R:
        """The step's result, once the transaction that ran it has committed. `last`: the
        operation runs after the group's other operations. `ends`: the id of the job this is
        the last step of (its slot may be refilled in the same transaction)."""
        loop = asyncio.get_running_loop()
        step: _Step[A, R] = _Step(operation, argument, loop.create_future(), ends)
        if last:
            self._last.add(operation)
        self._waiting.append(step)
        # One group at a time: the steps handed in meanwhile make the next one (on PostgreSQL
        # too: fewer, larger groups cost less than several at once, and a worker's refills keep
        # its claims off its jobs' path).
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_waiting())
        return await step.result

    async def _commit_waiting(self) -> None:
        # One turn of the loop first: jobs woken together (by one group's commit, or one claim)
        # hand in their next steps in that turn and make one group.
        await asyncio.sleep(0)
        group: list[_Step[Any, Any]] = []
        try:
            while self._waiting:
                group = [s for s in self._waiting[: self._limit] if not s.result.done()]
                del self._waiting[: self._limit]
                if group:
                    group += self._refilled(group)
                    await self._commit(group)
                group = []
        except BaseException:
            # Cancelled with the loop (or worse): no step may wait for a commit that will not come.
            for step in [*group, *self._waiting]:
                if not step.result.done():
                    step.result.cancel()
            self._waiting.clear()
            raise

    def _refilled(self, group: list[_Step[Any, Any]]) -> list[_Step[Any, Any]]:
        """The steps the refills add for the jobs this group ends."""
        ending = [s.ends for s in group if s.ends is not None]
        extras: list[_Step[Any, Any]] = []
        for refill in list(self._refills) if ending else []:
            extra = refill(ending)
            if extra is not None:
                self._last.add(extra.operation)
                extras.append(_Step(extra.operation, extra.argument, extra.result))
        return extras

    async def _commit(self, group: list[_Step[Any, Any]]) -> None:
        try:
            results = await self._transaction(group)
        except Exception:
            # The transaction is gone and which step failed is not known: each again on its own.
            for step in group:
                if step.result.done():
                    continue
                try:
                    [result] = await self._transaction([step])
                except Exception as error:
                    if not step.result.done():
                        step.result.set_exception(error)
                else:
                    if not step.result.done():
                        step.result.set_result(result)
            return
        for step, result in zip(group, results, strict=True):
            if not step.result.done():
                step.result.set_result(result)

    async def _transaction(self, group: list[_Step[Any, Any]]) -> list[Any]:
        """Run the group's steps, each operation once (`last` ones last), in one transaction;
        their results in the group's order, known once it has committed."""
        by_operation: dict[Operation[Any, Any], list[int]] = {}
        for index, step in enumerate(group):
            by_operation.setdefault(step.operation, []).append(index)
        ordered = sorted(by_operation.items(), key=lambda entry: entry[0] in self._last)
        results: list[Any] = [None] * len(group)
        async with self.database.write_connection() as connection:
            for operation, indexes in ordered:
                outputs = await operation(connection, [group[i].argument for i in indexes])
                if len(outputs) != len(indexes):
                    raise RuntimeError(f"{operation!r} answered {len(outputs)} of {len(indexes)}")
                for index, output in zip(indexes, outputs, strict=True):
                    results[index] = output
        return results


# One per database (and event loop); forgotten with the database.
_SHARED: weakref.WeakKeyDictionary[Database, GroupCommit] = weakref.WeakKeyDictionary()
