"""The one clock of a running propbridge: wall time, or wall time started at a chosen instant.

Every "now" of the product comes from here, and a stack hands the same clock to the sandbox and
its seed, so a test (or `PROPBRIDGE_NOW`) can run everything on 29 February. It reads time only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(eq=False)
class Clock:
    """UTC wall time shifted by an offset; it keeps running, so leases and backoffs work. One
    clock is one object (compared and hashed by identity), shared by all that run on it."""

    offset: timedelta = timedelta(0)

    @classmethod
    def starting_at(cls, moment: datetime) -> Clock:
        """A clock that reads `moment` now and runs on from there."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return cls(moment - datetime.now(UTC))

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return datetime.now(UTC) + self.offset

    def today(self) -> date:
        """The current UTC date."""
        return self.now().date()

    def advance(self, by: timedelta) -> None:
        """Move this clock forward (a rehearsal of days passing: everything on it, the
        sandbox included, sees the same later instant at once)."""
        if by < timedelta(0):
            raise ValueError("a clock only moves forward")
        self.offset += by


WALL_CLOCK = Clock()
# Per task, not per process: a test process runs several stacks, each on its own clock. A stack
# sets it where its tasks start (serving, the CLI, each request), and tasks inherit it.
_current: ContextVar[Clock] = ContextVar("propbridge_clock", default=WALL_CLOCK)


def now() -> datetime:
    """The current instant of the clock in effect."""
    return _current.get().now()


def current() -> Clock:
    """The clock in effect for this task."""
    return _current.get()


def set_clock(clock: Clock) -> None:
    """Make `clock` the one in effect for this task and the tasks it starts."""
    _current.set(clock)


@contextmanager
def using(clock: Clock) -> Iterator[None]:
    """`clock` in effect for a block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)
