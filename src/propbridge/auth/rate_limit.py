"""Our own rate limit per API key, as Propexo has one: a fixed one-minute window per key,
counted in the database so that every API process shares it.

Off unless the deployment sets `PROPBRIDGE_RATE_LIMIT_PER_MINUTE` or a key has its own limit
(`propbridge api-keys create --rate-limit N`). When on, every response carries
`x-ratelimit-limit` and `x-ratelimit-remaining`; past the limit, 429 with `Retry-After`.
"""

from __future__ import annotations

from dataclasses import dataclass

from propbridge import clock
from propbridge.db.engine import Database
from propbridge.db.usage_windows import count_use

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimitState:
    """Where a key stands in its current window."""

    limit: int
    remaining: int
    reset_seconds: int

    @property
    def exceeded(self) -> bool:
        """This request is over the limit."""
        return self.remaining < 0

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The headers every response carries while a limit applies."""
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(max(self.remaining, 0)).encode()),
        ]


async def count_request(database: Database, key_id: str, limit: int) -> RateLimitState:
    """Count one request of `key_id` in the current minute."""
    now = clock.now().timestamp()
    window = int(now // WINDOW_SECONDS)
    count = await count_use(database, f"key:{key_id}", window)
    reset = int((window + 1) * WINDOW_SECONDS - now) + 1
    return RateLimitState(limit, limit - count, reset)
