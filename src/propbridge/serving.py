"""Running the parts of propbridge in one asyncio loop: API, worker, scheduler, sandbox.

Process orchestration only: it starts and stops things, it decides nothing about them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import uvicorn

from propbridge.app import create_app
from propbridge.clock import set_clock
from propbridge.handlers import integration_job_limits, job_handlers, schedule_housekeeping
from propbridge.jobs.scheduler import run_scheduler
from propbridge.jobs.worker import Worker
from propbridge.runtime import Runtime


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (several run in one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


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


def http_server(target: HttpApp, log_level: str = "warning") -> QuietServer:
    """A uvicorn server for one app (httptools, no access log: we log requests ourselves)."""
    config = uvicorn.Config(
        target.app,
        host=target.host,
        port=target.port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
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
    servers = [http_server(t) for t in targets]
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
