"""When to try a job again: exponential backoff with full jitter, never before `Retry-After`.

Pure functions.
"""

from __future__ import annotations

import random

BASE_SECONDS = 1.0
CAP_SECONDS = 300.0


def backoff_seconds(
    attempt: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    base: float = BASE_SECONDS,
    cap: float = CAP_SECONDS,
) -> float:
    """Delay before attempt `attempt + 1`: uniform in [0, min(cap, base·2^attempt)], ≥ retry_after.

    The one backoff policy: jobs and webhook deliveries both take it (with their own base and
    cap)."""
    ceiling = min(cap, base * 2 ** max(attempt, 0))
    delay = (rng or random).uniform(0, ceiling)
    return max(delay, retry_after or 0.0)
