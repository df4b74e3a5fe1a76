"""What a running process shares: settings, the database, the credential cipher, the wake-up signal.

Built once per process by the CLI (or a test) and handed to the API, worker and scheduler.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from propbridge.clock import WALL_CLOCK, Clock
from propbridge.config import Settings
from propbridge.db.engine import Database
from propbridge.integrations.credentials import (
    ConfigurationError,
    CredentialCipher,
    key_provider_from_settings,
)
from propbridge.outbound import OutboundPolicy, guarded_transport
from propbridge.sync.registry import SyncedModels


def _catalog() -> SyncedModels:
    # Imported when a runtime is made, not with this module: every table comes with it, and
    # commands that make no runtime (`--help`) should not pay for them.
    from propbridge.catalog import SYNCED_MODELS

    return SYNCED_MODELS


@dataclass
class Runtime:
    """Process-wide handles. `job_enqueued` wakes an in-process worker without waiting a poll;
    `clock` is the one "now" of everything this runtime runs (see `clock.py`); `synced_models`
    is the registry of what a sync copies (composed in `catalog.py`, handed down from here)."""

    settings: Settings
    database: Database
    cipher: CredentialCipher
    clock: Clock = WALL_CLOCK
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    synced_models: SyncedModels = field(default_factory=lambda: _catalog())
    job_enqueued: asyncio.Event = field(default_factory=asyncio.Event)
    _http: httpx.AsyncClient | None = None
    _webhook_http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        """Open the database and load the key named by the settings; the clock is the one
        given, else one started at `settings.now`, else the wall clock."""
        cipher = CredentialCipher(key_provider_from_settings(settings))
        if clock is None:
            clock = Clock.starting_at(settings.now) if settings.now else WALL_CLOCK
        try:
            outbound = OutboundPolicy.parse(settings.outbound_allowlist)
        except ValueError as error:
            raise ConfigurationError(f"PROPBRIDGE_OUTBOUND_ALLOWLIST: {error}") from error
        return cls(settings, Database(settings.effective_database_url), cipher, clock, outbound)

    def notify_job_enqueued(self) -> None:
        """Tell an in-process worker that work is waiting."""
        self.job_enqueued.set()

    def webhook_http(self) -> httpx.AsyncClient:
        """The HTTP client for webhook deliveries: a 10-second timeout, no redirects followed."""
        if self._webhook_http is None:
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
            self._webhook_http = httpx.AsyncClient(
                timeout=httpx.Timeout(10.0),
                transport=guarded_transport(self.outbound, limits),
                follow_redirects=False,
            )
        return self._webhook_http

    def http(self) -> httpx.AsyncClient:
        """The shared HTTP client for PMS calls, with explicit timeouts and pooled connections."""
        if self._http is None:
            seconds = self.settings.resman_timeout_seconds
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(seconds, connect=min(10.0, seconds)),
                transport=guarded_transport(self.outbound, limits),
                follow_redirects=False,
            )
        return self._http

    async def close(self) -> None:
        """Release connections."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._webhook_http is not None:
            await self._webhook_http.aclose()
            self._webhook_http = None
        await self.database.dispose()
