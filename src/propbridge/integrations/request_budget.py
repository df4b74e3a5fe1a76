"""Each integration's PMS request budget (`max_request_frequency` per `max_request_cadence`),
shared by every process through the database.

A call that finds the budget spent waits for the next window when that is near, and otherwise
gives up with a RetryableError, so its job is rescheduled instead of holding a worker (a write
then has sent nothing, and is retried as usual).
"""

from __future__ import annotations

import asyncio

from propbridge import clock
from propbridge.connectors.base import RetryableError
from propbridge.db.engine import Database
from propbridge.db.usage_windows import count_use
from propbridge.integrations.schemas import CADENCE_SECONDS

MAX_WAIT_SECONDS = 5.0


class RequestBudget:
    """At most `frequency` requests per `cadence` to one integration's PMS."""

    def __init__(
        self, database: Database, integration_id: str, frequency: int, cadence: str
    ) -> None:
        self._database = database
        self._subject = f"pms:{integration_id}"
        self._frequency = frequency
        self._period = CADENCE_SECONDS.get(cadence, 1)

    async def __call__(self) -> int:
        """Take one request from the budget (waiting for the next window if it is near);
        returns the window (clock seconds // period) it was counted in."""
        while True:
            now = clock.now().timestamp()
            window = int(now // self._period)
            if await count_use(self._database, self._subject, window) <= self._frequency:
                return window
            wait = (window + 1) * self._period - now
            if wait > MAX_WAIT_SECONDS:
                raise RetryableError("the integration's PMS request budget is spent", wait)
            await asyncio.sleep(wait + 0.001)
