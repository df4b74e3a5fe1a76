"""propbridge as real OS processes on one database (for the crash tests), and plain queries
of that database from outside them."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg


class Processes:
    """propbridge's processes for one database, by name, each restartable with its arguments."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.args: dict[str, list[str]] = {}

    def start(self, name: str, args: list[str] | None = None) -> None:
        """Start a process (`args` after `propbridge`; none: those it was last started with)."""
        if args is not None:
            self.args[name] = args
        log = (self.logs / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "propbridge", *self.args[name]],
            env=self.env,
            stdout=log,
            stderr=log,
        )

    def kill(self, name: str) -> None:
        """`kill -9`, and wait for it to be gone."""
        process = self.running[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def query(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one statement (`$1`-style parameters), read outside propbridge's processes."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split("///", 1)[1]) as connection:
            return [tuple(row) for row in connection.execute(sql.replace("$1", "?"), params)]

    async def run() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return [tuple(row) for row in await connection.fetch(sql, *params)]
        finally:
            await connection.close()

    return asyncio.run(run())
