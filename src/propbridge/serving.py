"""Running the parts of propbridge in one asyncio loop: API, worker, scheduler, sandbox.

Process orchestration only: it starts and stops things, it decides nothing about them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import uvicorn

from propbridge.app import create_app
from propbridge.handlers import job_handlers
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
    """An ASGI app and where to serve it."""

    app: Any
    host: str
    port: int


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
) -> None:
    """Serve until `stop` is set, then shut down in order and release the runtime."""
    servers = [http_server(a) for a in extra_apps or []]
    if api is not None:
        servers.append(http_server(HttpApp(create_app(runtime), api[0], api[1])))
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    for server in servers:
        while not server.started:
            if any(t.done() for t in tasks):
                for t in tasks:
                    if t.done() and t.exception():
                        raise t.exception()  # type: ignore[misc]
                raise SystemExit("a server could not start (is the port in use?)")
            await asyncio.sleep(0.02)
    if worker:
        tasks.append(asyncio.create_task(Worker(runtime, job_handlers()).run(stop)))
    if scheduler:
        tasks.append(asyncio.create_task(run_scheduler(runtime, stop)))
    if started is not None:
        started.set()
    await stop.wait()
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    await runtime.close()
