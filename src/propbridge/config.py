"""Settings, read once from `PROPBRIDGE_*` environment variables.

Holds configuration only; it must not open files, sockets or databases.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob propbridge reads from its environment."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    model_config = SettingsConfigDict(env_prefix="PROPBRIDGE_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path(".propbridge")
    database_url: str | None = None
    encryption_key: str | None = Field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # Jobs one worker runs at once, across integrations (each also held to its own
    # max_job_concurrency). A PMS call mostly waits, so more in flight deliver more: one worker
    # delivered 193 charges/s with 8, 309 with 16 (bench/bench_writes.py); more would also mean
    # more syncs of different integrations at once, each holding its pages in memory.
    worker_concurrency: int = Field(default=16, ge=1, le=1000)
    worker_poll_seconds: float = Field(default=0.25, gt=0)
    # A job whose worker stops renewing this (every quarter of it) is taken as dead: a sync
    # that died blocks a new one for at most this long after the worker's last heartbeat.
    job_lease_seconds: float = Field(default=20.0, gt=0)
    resman_timeout_seconds: float = Field(default=60.0, gt=0)
    # Requests per minute per API key (a key's own limit wins); None: no limit.
    rate_limit_per_minute: int | None = Field(default=None, gt=0)
    # The first retry of a failed job waits up to this long (full jitter), doubling each time.
    retry_base_seconds: float = Field(default=1.0, gt=0)
    sync_lookback_hours: float = Field(default=48.0, ge=0)
    # An item the PMS accepted into its approval queue that the syncs for this many days after
    # have not found in its ledger is UNCONFIRMED (most likely a manager rejected it).
    unconfirmed_after_days: float = Field(default=7.0, gt=0, le=3650)
    # The first webhook retry waits about this long; each next one twice as long (max an hour).
    webhook_first_retry_seconds: float = Field(default=5.0, gt=0)
    # Run on a chosen date: the clock reads this instant at start-up and runs on from there
    # (ISO-8601; for rehearsing month ends, leap days and time changes). Unset: the wall clock.
    now: datetime | None = None
    # Hosts, addresses and CIDR ranges outbound calls (PMS, webhooks) may reach although
    # private, and over plain http; comma-separated. Empty: public https destinations only.
    outbound_allowlist: str = ""
    # No integration syncs on a schedule more often than this (a sync reads the PMS whole).
    min_sync_interval_seconds: int = Field(default=900, ge=1)
    # A connection must finish each request's headers within this long of starting them (of
    # connecting, for its first): a client that trickles them would hold it forever.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    # A request body must keep coming (no pause longer than this) ...
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    # ... and be whole within this long: 2 MiB, the cap, at about 300 kbit/s.
    body_total_timeout_seconds: float = Field(default=60.0, gt=0)

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under `data_dir`."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'propbridge.db').resolve()}"

    @property
    def is_embedded(self) -> bool:
        """True when running on the embedded SQLite default."""
        return self.effective_database_url.startswith("sqlite")


def normalise_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick the async drivers."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own `Settings`)."""
    return Settings()


def make_private_directory(path: Path) -> None:
    """Create a directory for propbridge's own files (the database, the key file) readable by
    its owner only, whatever the umask; an existing directory is left as the operator made
    it."""
    if path.exists():
        return
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
