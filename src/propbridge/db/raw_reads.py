"""Read-only SQL on the database driver alone, for the API's hottest reads (record lists and
records by id).

Why not SQLAlchemy there: profiled under load, a list page spent more time in SQLAlchemy's
statement building, cache keys, execution context and result machinery, and in aiosqlite's
four thread hand-offs per statement (cursor, execute, fetch, close), than in SQLite itself. Here
the statements of one request run in a single hand-off: on SQLite, one call on a reader thread
that owns its connection (inside one read transaction, so they share a snapshot); on PostgreSQL,
one pooled asyncpg connection. Statements are written with `?` placeholders, renumbered to `$n`
for PostgreSQL once per text. Storage plumbing only: what to read is decided by the caller.
"""

# SQL text is built here from names the models give (never the client's) and `?` placeholders:
# ruff: noqa: S608
from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from queue import SimpleQueue
from typing import Any

from sqlalchemy.engine import make_url

# One statement: SQL text with `?` placeholders, and its values in order.
Statement = tuple[str, Sequence[Any]]
Rows = list[Sequence[Any]]
# Reader threads on SQLite: enough to overlap SQLite's own work (it runs without the GIL) with
# the event loop's, few enough that they do not fight over the GIL.
SQLITE_READERS = 4
POSTGRES_READERS = 10


def _sqlite_moment(value: datetime) -> str:
    """A timestamp as SQLAlchemy stores it in SQLite (naive UTC text), so that comparisons
    with stored values are text comparisons of the same shape."""
    # isoformat pads the year to four digits (strftime's %Y does not on Linux: year 500).
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def column_name(column: Any) -> str:
    """A mapped attribute's column name (what SQL text names)."""
    return str(column.expression.name)


class RecordQuery:
    """The conditions of one read of a model's records, as SQL text and values in order.

    Each filter adds a condition through a method named for what it asks, with column names
    taken from the model (never from the client) and every value a placeholder."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.table: str = model.__tablename__
        self.conditions: list[str] = []
        self.values: list[Any] = []

    def _add(self, condition: str, *values: Any) -> None:
        self.conditions.append(condition)
        self.values.extend(values)

    def equal(self, column: Any, value: Any) -> None:
        """`column = value`."""
        self._add(f"{column_name(column)} = ?", value)

    def at_least(self, column: Any, value: Any) -> None:
        """`column >= value`."""
        self._add(f"{column_name(column)} >= ?", value)

    def at_most(self, column: Any, value: Any) -> None:
        """`column <= value`."""
        self._add(f"{column_name(column)} <= ?", value)

    def null(self, column: Any) -> None:
        """`column IS NULL`."""
        self._add(f"{column_name(column)} IS NULL")

    def one_of(self, column: Any, values: Sequence[Any]) -> None:
        """`column IN (values)`; nothing matches an empty list."""
        if not values:
            self.nothing()
            return
        self._add(f"{column_name(column)} IN ({', '.join('?' * len(values))})", *values)

    def linked(self, column: Any, link: Any, by: Any, value: Any) -> None:
        """`column` is among the `link` values of the rows whose `by` is `value` (both
        columns of one link table)."""
        table = link.class_.__tablename__
        self._add(
            f"{column_name(column)} IN "
            f"(SELECT {column_name(link)} FROM {table} WHERE {column_name(by)} = ?)",
            value,
        )

    def nothing(self) -> None:
        """No record matches."""
        self._add("1 = 0")


class RawReads:
    """Runs the read-only statements of one request together, with the driver alone."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self._numbered: dict[str, str] = {}
        self._pool: Any = None  # asyncpg's pool, made on first use (it needs the running loop)
        self._pool_lock = asyncio.Lock()
        # SQLite: reader threads, each with its own connection, taking work from one queue.
        self._work: SimpleQueue[Any] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._inline: dict[int, sqlite3.Connection] = {}  # the event loops' own, for key lookups
        if self.dialect == "sqlite":
            self._path = parsed.database or ""
        else:
            # The URL's query options are SQLAlchemy's asyncpg options, not server settings:
            # passed on as the connection arguments SQLAlchemy would give asyncpg.
            options = dict(parsed.query)
            self._connect_args: dict[str, Any] = {}
            if "ssl" in options:
                self._connect_args["ssl"] = options["ssl"]
            if "prepared_statement_cache_size" in options:
                size = int(str(options["prepared_statement_cache_size"]))
                self._connect_args["statement_cache_size"] = size
            if "command_timeout" in options:
                self._connect_args["command_timeout"] = float(str(options["command_timeout"]))
            plain = parsed.set(drivername="postgresql", query={})
            self._dsn = plain.render_as_string(hide_password=False)

    def value(self, value: Any) -> Any:
        """A Python value as this engine's driver compares it with stored ones."""
        if isinstance(value, datetime) and self.dialect == "sqlite":
            return _sqlite_moment(value)
        return value

    async def fetch(self, statements: Sequence[Statement], bounded: bool = False) -> list[Rows]:
        """The rows of each statement, all read in one hand-off to the driver.

        `bounded`: each statement is a lookup by key (a handful of index steps, never a scan),
        so on SQLite it runs right here on the event loop: a hand-off to a reader thread and
        back costs more than such a read."""
        if self.dialect == "sqlite":
            if bounded:
                # One connection per thread that runs an event loop (a connection must not be
                # inside two snapshots at once).
                inline = self._inline.get(threading.get_ident())
                if inline is None:
                    inline = self._inline[threading.get_ident()] = self._connect()
                return self._read_snapshot(inline, statements)
            if not self._threads:
                self._start_readers()
            loop = asyncio.get_running_loop()
            future: asyncio.Future[list[Rows]] = loop.create_future()
            # A queue and a loop callback: what a thread pool does, minus its futures' chaining.
            self._work.put((loop, future, statements))
            return await future
        pool = self._pool or await self._open_pool()
        async with pool.acquire() as connection:
            return [
                await connection.fetch(self._dollar(sql), *values) for sql, values in statements
            ]

    def _start_readers(self) -> None:
        for n in range(SQLITE_READERS):
            thread = threading.Thread(target=self._reader, name=f"sqlite-reads-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _reader(self) -> None:
        """A reader thread: its own connection; each request's statements in one snapshot."""
        connection: sqlite3.Connection | None = None
        try:
            while (item := self._work.get()) is not None:
                loop, future, statements = item
                answer: tuple[Any, BaseException | None]
                try:
                    connection = connection or self._connect()
                    answer = (self._read_snapshot(connection, statements), None)
                except BaseException as error:  # handed to the request, which raises it
                    answer = (None, error)
                with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits
                    loop.call_soon_threadsafe(_settle, future, *answer)
        finally:
            if connection is not None:
                connection.close()

    @staticmethod
    def _read_snapshot(
        connection: sqlite3.Connection, statements: Sequence[Statement]
    ) -> list[Rows]:
        """Each statement's rows, all from one snapshot of the database."""
        connection.execute("BEGIN")
        try:
            return [connection.execute(sql, values).fetchall() for sql, values in statements]
        finally:
            connection.execute("COMMIT")

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA query_only=ON")
        return connection

    def _dollar(self, sql: str) -> str:
        """`?` placeholders as asyncpg's `$1, $2, …` (kept per text: statements repeat)."""
        numbered = self._numbered.get(sql)
        if numbered is None:
            parts = sql.split("?")
            numbered = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
            self._numbered[sql] = numbered
        return numbered

    async def _open_pool(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]

        async with self._pool_lock:
            if self._pool is None:
                # Nothing a read leaves behind needs resetting (no transaction, no session
                # setting), so connections go back to the pool without a reset round trip.
                # Plans made for the values given: asyncpg prepares every statement, and after
                # five runs PostgreSQL may switch to a generic plan, blind to the integration or
                # the offset asked for.
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=POSTGRES_READERS,
                    reset=_no_reset,
                    server_settings={"plan_cache_mode": "force_custom_plan"},
                    **self._connect_args,
                )
        return self._pool

    async def close(self) -> None:
        """Close the pool's connections and stop the reader threads."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        for _ in self._threads:
            self._work.put(None)
        self._threads = []
        for connection in self._inline.values():
            connection.close()
        self._inline = {}


async def _no_reset(_connection: Any) -> None:
    return None


def _settle(future: asyncio.Future[Any], rows: Any, error: BaseException | None) -> None:
    """Hand a reader thread's answer to the waiting request (unless it gave up waiting)."""
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(rows)
