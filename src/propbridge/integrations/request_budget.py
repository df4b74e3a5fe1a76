"""Each integration's PMS request budget (`max_request_frequency` per `max_request_cadence`),
shared by every process through the database.

A call that finds the budget spent waits for the next window when that is near, and otherwise
gives up with a RetryableError, so its job is rescheduled instead of holding a worker (a write
then has sent nothing, and is retried as usual).

Requests are counted in the database before they are made, several at a time: a call takes a
unit already counted for the current window by this holder if there is one; otherwise it counts
units for itself, for every call queued behind it and, when the budget is large, some ahead, in
one database write. A caller with a transaction of its own may count units in it (`reserve`)
and hand them over once it has committed (`credit`): the write job counts its requests together
with their dispatched marks. A unit is counted once and spent at most once, in its window (one
left unspent when its window ends is lost), so every process together never makes more requests
in a window than the budget.
"""

from __future__ import annotations

import asyncio

from propbridge import clock
from propbridge.connectors.base import RetryableError
from propbridge.db.engine import Database, Executor
from propbridge.db.usage_windows import count_uses
from propbridge.integrations.schemas import CADENCE_SECONDS

MAX_WAIT_SECONDS = 5.0
# Units counted ahead of the requests that need them: at most an eighth of a window's budget
# (what one process can leave unspent when the window ends, lost to the others) and at most
# LEASE_MAX, so a small budget is counted one request at a time and a large one seldom.
LEASE_SHARE = 8
LEASE_MAX = 256


class RequestBudget:
    """At most `frequency` requests per `cadence` to one integration's PMS."""

    def __init__(
        self, database: Database, integration_id: str, frequency: int, cadence: str
    ) -> None:
        self._database = database
        self._subject = f"pms:{integration_id}"
        self._frequency = frequency
        self._period = CADENCE_SECONDS.get(cadence, 1)
        self._window = -1  # the window of the units in hand
        self._in_hand = 0  # units counted in the database for `_window`, not spent yet
        self._spent_window = -1  # a window the database said is spent (it stays spent)
        self._queued = 0  # calls waiting for a unit, the one counting included
        self._counting = asyncio.Lock()

    def _current_window(self) -> int:
        return int(clock.now().timestamp() // self._period)

    def units_for(self, requests: int) -> int:
        """How many units to count for `requests` requests about to be made (some ahead)."""
        return max(requests, min(self._frequency // LEASE_SHARE, LEASE_MAX))

    def in_hand(self) -> int:
        """Units counted for the current window and not spent yet."""
        return self._in_hand if self._window == self._current_window() else 0

    async def reserve(self, db: Executor, units: int) -> tuple[int, int]:
        """Count `units` requests in the current window, in the caller's transaction; returns
        the window and how many of them the budget grants. Hand them to `credit` once that
        transaction has committed (not before: rolled back, they were never counted)."""
        window = self._current_window()
        count = await count_uses(db, self._subject, window, units)
        return window, max(0, min(units, self._frequency - (count - units)))

    def credit(self, window: int, units: int) -> None:
        """Units counted by a committed `reserve` may now be spent (in their window only)."""
        if units <= 0 or window < self._window:
            return
        if window > self._window:
            self._window, self._in_hand = window, 0
        self._in_hand += units

    def _take(self, window: int) -> bool:
        if self._window == window and self._in_hand > 0:
            self._in_hand -= 1
            return True
        return False

    async def __call__(self) -> int:
        """Take one request from the budget (waiting for the next window if it is near);
        returns the window (clock seconds // period) it was counted in."""
        while True:
            window = self._current_window()
            if self._take(window):
                return window
            self._queued += 1
            try:
                async with self._counting:
                    window = self._current_window()
                    if self._take(window):
                        return window
                    if window != self._spent_window:
                        # One database write for this call and every call queued behind it.
                        wanted = self.units_for(self._queued)
                        async with self._database.write_connection() as connection:
                            counted, granted = await self.reserve(connection, wanted)
                        self.credit(counted, granted)
                        if granted < wanted:
                            self._spent_window = counted
                        if self._take(window):
                            return window
            finally:
                self._queued -= 1
            now = clock.now().timestamp()
            wait = (window + 1) * self._period - now
            if wait > MAX_WAIT_SECONDS:
                raise RetryableError("the integration's PMS request budget is spent", wait)
            await asyncio.sleep(max(wait, 0.0) + 0.001)
