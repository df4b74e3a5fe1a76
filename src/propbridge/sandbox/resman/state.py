"""The sandbox's settings and its per-app state, shared by its routers.

Plain data only: what a request handler reaches through `request.app.state.sandbox`.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from propbridge.sandbox.resman.faults import FaultSettings, FaultState
from propbridge.sandbox.resman.store import SandboxStore


def wall_clock() -> datetime:
    """The real current instant (UTC): the default of a sandbox run without a clock (it imports
    nothing of the product); `propbridge sandbox resman`, the demo and the tests hand it theirs."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SandboxConfig:
    """The one partner and account the sandbox knows, and how it behaves."""

    partner_id: str = "1000"
    api_key: str = "0123456789abcdef0123456789abcdef"
    account_id: str = "400"
    auto_approve: bool = False
    faults: FaultSettings = field(default_factory=FaultSettings)
    # The sandbox's "now". A propbridge stack hands over its own clock, so that both (and the
    # seed) live on the same day; alone, the sandbox reads the wall clock.
    clock: Callable[[], datetime] = wall_clock


@dataclass
class Sandbox:
    """One running sandbox: its store, its settings and its fault switches."""

    store: SandboxStore
    config: SandboxConfig
    faults: FaultState
    # The Partner Transactions page's forms carry it; a form from elsewhere cannot.
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def now(self) -> datetime:
        """The sandbox's current instant."""
        return self.config.clock()


def _named_by_address(host_header: str) -> bool:
    """The request's `Host` is an IP address or `localhost`: a page on another site that got
    a DNS name of its own pointed here (DNS rebinding) would send that name instead."""
    host = urlsplit(f"//{host_header}").hostname or ""
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def same_origin(request: Request) -> None:
    """403 for a browser's cross-site request: its `Origin` names another site, or its
    `Sec-Fetch-Site` says `cross-site`, or it reached us by a DNS name (the control plane and
    the approval page answer only on an address or `localhost`). Programs that send neither
    header, like the tests and propbridge, are not browsers.

    A cross-site link followed in the address bar (a GET or HEAD top-level navigation) may still
    open a page: browsers send it no `Origin` either, and it changes nothing."""
    host = request.headers.get("host", "")
    if not _named_by_address(host):
        raise HTTPException(403, "The control plane answers on an IP address or localhost only")
    headers = request.headers
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site" and not (
        request.method in ("GET", "HEAD")
        and headers.get("sec-fetch-mode") == "navigate"
        and headers.get("sec-fetch-dest") == "document"
    ):
        raise HTTPException(403, "Cross-site requests are refused")
    origin = headers.get("origin")
    if origin is None:
        return
    if urlsplit(origin).netloc != host:
        raise HTTPException(403, "Cross-site requests are refused")


def sandbox_of(request: Request) -> Sandbox:
    """The sandbox a request reached."""
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox
