"""Running the parts of propbridge in one asyncio loop: API, worker, scheduler, sandbox.

Process orchestration only: it starts and stops things, it decides nothing about them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, cast

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from propbridge.api.errors import error_body
from propbridge.app import create_app
from propbridge.clock import set_clock
from propbridge.config import Settings
from propbridge.handlers import integration_job_limits, job_handlers, schedule_housekeeping
from propbridge.jobs.scheduler import run_scheduler
from propbridge.jobs.worker import Worker
from propbridge.runtime import Runtime


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (several run in one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


# A request's line and headers together; far more than any client of ours sends, and what
# uvicorn would otherwise collect without end.
MAX_HEADER_BYTES = 64 * 1024


def _plain_answer(status: int, reason: bytes, code: str, message: str) -> bytes:
    """A whole HTTP answer with the error envelope, for the connection to close after."""
    body = orjson.dumps(error_body(code, message))
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % (status, reason, len(body))
    ) + body


# After an answer that left input unread (a request's body, or the rest of too-long headers),
# the connection's write side is closed and what still comes is dropped, for at most this long
# or this much, before the connection is: closing at once makes the kernel answer that input
# with a reset, and a reset can destroy the answer before the client has read it (a client
# sending `{}` with a bad token saw "connection reset" instead of its 401).
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024


class _HeadersTooLarge(Exception):
    """Stops the parser once the headers passed `MAX_HEADER_BYTES` (the answer is written)."""


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds it lacks: each request's headers must be
    complete within `header_timeout` of its first byte (of the connection's opening, for the
    first request; keep-alive's idle timeout covers the wait between requests), and take at
    most `MAX_HEADER_BYTES` (431). Past a bound the connection is closed: otherwise a client
    trickling a byte at a time holds it, and its memory, forever. A connection whose answer
    went out before its request's body was read (a 401, a 404, a 413: the request context marks
    it `connection: close`) is closed too, rather than kept alive to receive and drop the rest:
    that would cost more than the header check that answered it (a flood of 2 MiB bodies
    without a token kept the loop busy receiving them). Every close after an answer lingers
    (`LINGER_SECONDS`, `LINGER_BYTES`), so that the client reads its answer, not a reset.

    Subclassed per server with its settings (`bounded_protocol`)."""

    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._answered = False
        self._lingered: int | None = None  # bytes dropped since the write side was closed

    def _arm(self, seconds: float, expired: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _answer_and_close(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self._answered = True
            self.transport.write(answer)
            self._linger_then_close()

    def _linger_then_close(self) -> None:
        """End the connection after what was written: its write side now, the rest once the
        client has had `LINGER_SECONDS` to read the answer (or sent `LINGER_BYTES` more)."""
        if self.transport.is_closing() or self._lingered is not None:
            return
        self._lingered = 0
        self._unset_keepalive_if_required()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._lingered is None:
            super().data_received(data)
            return
        self._lingered += len(data)
        if self._lingered > LINGER_BYTES:
            self.transport.close()

    def _headers_expired(self) -> None:
        self._deadline = None
        message = f"The request's headers must arrive within {self.header_timeout:g} s"
        self._answer_and_close(_plain_answer(408, b"Request Timeout", "request_timeout", message))

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            message = f"A request's line and headers are limited to {MAX_HEADER_BYTES} bytes"
            self._answer_and_close(
                _plain_answer(431, b"Request Header Fields Too Large", "headers_too_large", message)
            )
            raise _HeadersTooLarge

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, self._headers_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        if not self._answered:  # the parser stopped because a bound was passed: answered
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._deadline is None:
            self._arm(self.header_timeout, self._headers_expired)

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None:
            # The cycle closes the connection after an answer marked `connection: close` (the
            # request context marks those that leave a body unread): closed with a linger.
            lingering = _ClosingWithLinger(self.transport, self._linger_then_close)
            self.cycle.transport = cast(asyncio.Transport, lingering)

    def on_response_complete(self) -> None:
        if self._lingered is None:  # else the connection is ending: no next request on it
            super().on_response_complete()


class _ClosingWithLinger:
    """A transport whose `close` is a lingering close (everything else is the transport's)."""

    def __init__(self, transport: asyncio.Transport, close: Callable[[], None]) -> None:
        self._transport = transport
        self.close = close

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def bounded_protocol(settings: Settings) -> type[BoundedHttpProtocol]:
    """`BoundedHttpProtocol` with the deployment's timeouts."""
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {"header_timeout": settings.header_timeout_seconds},
    )


@dataclass
class HttpApp:
    """An ASGI app and where to serve it (`reuse_port`: share the port with other processes,
    the kernel spreading connections between them)."""

    app: Any
    host: str
    port: int
    reuse_port: bool = False

    def socket(self) -> socket.socket | None:
        """A bound socket when the port is shared; None lets uvicorn bind it."""
        if not self.reuse_port:
            return None
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.host, self.port))
        sock.set_inheritable(True)
        return sock


def http_server(target: HttpApp, settings: Settings, log_level: str = "warning") -> QuietServer:
    """A uvicorn server for one app (httptools within our bounds, no access log: we log
    requests ourselves)."""
    config = uvicorn.Config(
        target.app,
        host=target.host,
        port=target.port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        http=bounded_protocol(settings),
    )
    return QuietServer(config)


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set `stop` (the loop then winds everything down)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_stack(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    api: tuple[str, int] | None,
    worker: bool,
    scheduler: bool,
    extra_apps: list[HttpApp] | None = None,
    started: asyncio.Event | None = None,
    reuse_port: bool = False,
) -> None:
    """Serve until `stop` is set, then shut down in order and release the runtime."""
    set_clock(runtime.clock)  # the worker and scheduler tasks below inherit it
    targets = list(extra_apps or [])
    if api is not None:
        targets.append(HttpApp(create_app(runtime), api[0], api[1], reuse_port))
    servers = [http_server(t, runtime.settings) for t in targets]
    # Everything made so far lives as long as the process: out of the collector's sight, a
    # full collection (which a parse of a large body triggers again and again) no longer walks
    # the whole program (2 MiB of small nested arrays parsed in 0.4 s instead of 1.2 s).
    gc.collect()
    gc.freeze()
    tasks = []
    for server, target in zip(servers, targets, strict=True):
        sock = target.socket()
        tasks.append(asyncio.create_task(server.serve(sockets=[sock] if sock else None)))
    for server in servers:
        while not server.started:
            if any(t.done() for t in tasks):
                for t in tasks:
                    if t.done() and t.exception():
                        raise t.exception()  # type: ignore[misc]
                raise SystemExit("a server could not start (is the port in use?)")
            await asyncio.sleep(0.02)
    if worker:
        worker_loop = Worker(runtime, job_handlers(), limits=integration_job_limits)
        tasks.append(asyncio.create_task(worker_loop.run(stop)))
    if scheduler:
        async with runtime.database.write() as session:
            await schedule_housekeeping(session)
        tasks.append(asyncio.create_task(run_scheduler(runtime, stop)))
    if started is not None:
        started.set()
    await stop.wait()
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    await runtime.close()


def _die_with_parent() -> None:
    """In a child process: ask Linux to SIGTERM it when its parent dies (a crashed or killed
    `serve` must not leave API processes behind)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_api_processes(count: int, host: str, port: int) -> list[subprocess.Popen[bytes]]:
    """`count` more API-only processes sharing `host:port` (SO_REUSEPORT)."""
    command = [
        sys.executable,
        "-m",
        "propbridge",
        "serve",
        "--no-worker",
        "--reuse-port",
        "--host",
        host,
        "--port",
        str(port),
    ]
    return [
        subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: S603
        for _ in range(count)
    ]


def stop_processes(processes: list[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    """SIGTERM the processes and wait for them (SIGKILL after `timeout`)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
