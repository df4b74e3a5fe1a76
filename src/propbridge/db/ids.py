"""Opaque, URL-safe, time-ordered identifiers (UUIDv7 text).

Pure functions only; no database access.
"""

from __future__ import annotations

import os
import threading
import time

_last = 0
_lock = threading.Lock()
# Random bytes are drawn from the OS in blocks: one `getrandom` per id (every request has one)
# gave up the GIL on the API's hot path and waited to get it back from the reader threads.
_BLOCK = 10 * 512
_random = b""
_used = _BLOCK


def _forget_random() -> None:
    # A forked child must not hand out its parent's next random bytes (nor build on its last id).
    global _random, _used, _last
    _random, _used, _last = b"", _BLOCK, 0


os.register_at_fork(after_in_child=_forget_random)


def new_id() -> str:
    """A UUIDv7 string: 48 bits of milliseconds, then randomness, so ids sort by creation.

    Within one process they strictly increase, even within a millisecond (RFC 9562's
    monotonic method: one past the last id): rows made in one group commit, such as the events
    of several writes concluded together, keep the order they were made in."""
    global _last, _random, _used
    millis = time.time_ns() // 1_000_000
    with _lock:
        if _used == _BLOCK:
            _random, _used = os.urandom(_BLOCK), 0
        rand = int.from_bytes(_random[_used : _used + 10], "big")
        _used += 10
        rand_a = (rand >> 68) & 0xFFF
        rand_b = rand & ((1 << 62) - 1)
        value = (millis & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= rand_a << 64
        value |= 0b10 << 62
        value |= rand_b
        if value <= _last:
            value = _last + 1  # the random bits count up; 2**62 ids per millisecond to overflow
        _last = value
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
