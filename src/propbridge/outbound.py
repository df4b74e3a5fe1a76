"""Where propbridge's outbound calls may go: PMS base URLs and webhook endpoints.

Public addresses over https only, unless the operator names hosts or ranges in
`PROPBRIDGE_OUTBOUND_ALLOWLIST` (they may then be private and plain http). Checked when a URL is
saved and again on every connection, after DNS resolution, to the address actually connected
to (a name that resolves elsewhere later cannot reach an inner address). Policy only: it decides
and connects, it knows no domain.
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# IPv6 ranges that carry an IPv4 address inside (NAT64, 6to4, Teredo, IPv4-compatible,
# IPv4-translated), or are deprecated site-local or discard-only: Python calls several of them
# global, but through a translator they reach whatever IPv4 address they embed.
EMBEDDING_IPV6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
        "::/96",
        "::ffff:0:0:0/96",
        "fec0::/10",
        "100::/64",
    )
)


class OutboundRefusedError(ValueError):
    """A destination the policy does not allow (the message says why, without probing it)."""


@dataclass(frozen=True)
class OutboundPolicy:
    """The operator's allow-list: host names and address ranges."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> OutboundPolicy:
        """`PROPBRIDGE_OUTBOUND_ALLOWLIST`: comma-separated host names, addresses and CIDR
        ranges; ValueError on a malformed entry."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in (part.strip().lower() for part in (text or "").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not HOST_NAME.match(entry):
                    raise ValueError(f"not a host name, address or range: {entry!r}") from None
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        """The operator named this host (or its address)."""
        host = host.lower().rstrip(".")
        if host in self.hosts:
            return True
        address = _address(host)
        return address is not None and self._listed(address)

    def _listed(self, address: Address) -> bool:
        return any(address in network for network in self.networks)

    def allows_address(self, host: str, address: Address) -> bool:
        """Whether a connection for `host` may go to `address`."""
        if self.allows_host(host) or self._listed(address):
            return True
        mapped = getattr(address, "ipv4_mapped", None)
        target = mapped or address
        if isinstance(target, ipaddress.IPv6Address) and any(
            target in network for network in EMBEDDING_IPV6
        ):
            return False
        return bool(target.is_global) and not target.is_multicast

    def check_url(self, url: str) -> None:
        """The URL's scheme and host are allowed (https, or http to an allowed host); the
        addresses it resolves to now are too."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port
        except ValueError as error:
            raise OutboundRefusedError(f"is not a well-formed URL ({error})") from None
        if parts.scheme not in ("http", "https") or not host:
            raise OutboundRefusedError("must be an http(s) URL with a host")
        if parts.username or parts.password:
            raise OutboundRefusedError("must not carry a user name or password")
        if parts.scheme == "http" and not self.allows_host(host):
            raise OutboundRefusedError(
                "must use https (plain http only to hosts in PROPBRIDGE_OUTBOUND_ALLOWLIST)"
            )
        for address in resolve(host, port or (443 if parts.scheme == "https" else 80)):
            if not self.allows_address(host, address):
                raise OutboundRefusedError(
                    "points at a private, loopback, link-local or otherwise internal address "
                    "(allow it with PROPBRIDGE_OUTBOUND_ALLOWLIST)"
                )

    async def check(self, url: str) -> None:
        """`check_url` off the event loop (name resolution blocks)."""
        await anyio.to_thread.run_sync(self.check_url, url)


def _address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[Address]:
    """The addresses a host name stands for (itself, for an address)."""
    literal = _address(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundRefusedError("its host name does not resolve") from error
    return _unique(ipaddress.ip_address(info[4][0]) for info in infos)


def _unique(addresses: Iterable[Address]) -> list[Address]:
    seen: list[Address] = []
    for address in addresses:
        if address not in seen:
            seen.append(address)
    return seen


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each connection's host itself, checks every address against the policy and
    connects to a checked address (TLS still verifies the name)."""

    def __init__(self, policy: OutboundPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy = policy
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await anyio.to_thread.run_sync(resolve, host, port)
        allowed = [a for a in addresses if self._policy.allows_address(host, a)]
        if not allowed or len(allowed) != len(addresses):
            raise OutboundRefusedError(f"{host} is not an allowed destination")
        stream = await self._inner.connect_tcp(
            str(allowed[0]), port, timeout, local_address, socket_options
        )
        return _PooledStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PooledStream(httpcore.AsyncNetworkStream):
    """A connection as httpcore's pool sees it, with its socket looked up once.

    On every request it sends and every answer it finishes, the pool asks each of its idle
    connections whether the server has closed it ("is_readable"), and the anyio stream finds
    its socket anew each time through a table of attribute getters: with a worker's dozen
    connections, the largest cost of a PMS call. Here the socket is registered once with a
    poller of its own, and each question is one `poll` of the socket, as httpcore's is."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")
        self._poller = select.poll()
        if self._socket is not None:
            self._poller.register(self._socket, select.POLLIN)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        # The TLS stream runs over the same socket.
        return _PooledStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._socket
        if info == "is_readable":
            # Data or a hang-up while idle (or a socket already closed: POLLNVAL) ends it.
            return self._socket is None or bool(self._poller.poll(0))
        return self._stream.get_extra_info(info)


def guarded_transport(policy: OutboundPolicy, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes the policy (no proxies from the
    environment: they would connect on our behalf)."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    pool: Any = transport._pool
    # httpcore takes its network backend at construction only; httpx does not pass one through.
    pool._network_backend = GuardedBackend(policy, pool._network_backend)
    return transport
