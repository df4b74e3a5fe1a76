"""Opaque, URL-safe, time-ordered identifiers (UUIDv7 text).

Pure functions only; no database access.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_last = 0
_lock = threading.Lock()


def new_id() -> str:
    """A UUIDv7 string: 48 bits of milliseconds, then randomness, so ids sort by creation.

    Within one process they strictly increase, even within a millisecond (RFC 9562's
    monotonic method: one past the last id): rows made in one group commit, such as the events
    of several writes concluded together, keep the order they were made in."""
    global _last
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = (rand >> 68) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rand_a << 64
    value |= 0b10 << 62
    value |= rand_b
    with _lock:
        if value <= _last:
            value = _last + 1  # the random bits count up; 2**62 ids per millisecond to overflow
        _last = value
    return str(uuid.UUID(int=value))
