"""Engines and session factories for SQLite (embedded) and PostgreSQL (scale-out).

Opens connections only; it holds no business logic and never commits on anyone's behalf.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Select, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from propbridge.config import make_private_directory
from propbridge.db.raw_reads import RawReads

# What a query helper runs on: an ORM session or a Core connection (both execute statements).
Executor = AsyncSession | AsyncConnection


async def count_rows(db: Executor, statement: Select[Any]) -> int:
    """COUNT(*) over a SELECT (its ORDER BY dropped)."""
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return int((await db.execute(counted)).scalar_one())


def _private_file(path: Path) -> None:
    """Create the database file readable by its owner only before SQLite opens it (SQLite
    gives its WAL and shared-memory files the database file's permissions)."""
    make_private_directory(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists():
            os.chmod(companion, 0o600)


def _prepare_sqlite(engine: AsyncEngine, begin_immediate: bool) -> None:
    """WAL, a busy timeout and foreign keys on every connection.

    Write transactions start with `BEGIN IMMEDIATE`: a deferred transaction that later tries
    to write fails at once with SQLITE_BUSY when another writer got in first, which
    `busy_timeout` cannot help with. Taking the write lock up front makes writers queue.
    Read connections stay in autocommit: each statement reads one consistent snapshot, and no
    BEGIN/ROLLBACK round trips through aiosqlite's thread are paid per request.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    if begin_immediate:

        @event.listens_for(engine.sync_engine, "begin")
        def on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _json_text(value: Any) -> str:
    """JSON columns' serialiser: orjson, with decimals (PMS amounts) as text."""
    return orjson.dumps(value, default=str).decode()


# Both engines share these: JSON columns are written on every synced record.
JSON_OPTIONS: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


class Database:
    """The engines of one database and the sessions made from them.

    `read()` gives a session for queries; `write()` a session whose transaction holds the
    write lock from its first statement on SQLite (on PostgreSQL both are the same).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            database = make_url(url).database
            if database and database != ":memory:":
                _private_file(Path(database))
            self.read_engine = create_async_engine(
                url,
                echo=echo,
                pool_size=8,
                max_overflow=8,
                pool_reset_on_return=None,
                **JSON_OPTIONS,
            )
            self.write_engine = create_async_engine(
                url, echo=echo, pool_size=4, max_overflow=4, **JSON_OPTIONS
            )
            _prepare_sqlite(self.read_engine, begin_immediate=False)
            _prepare_sqlite(self.write_engine, begin_immediate=True)
        else:
            self.read_engine = create_async_engine(
                url,
                echo=echo,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                # Statements are prepared once per connection, and PostgreSQL may then settle on
                # a generic plan chosen while a table was small: the write path's lookups slowed
                # as write_requests and jobs grew (seed POST 1,230 → 850 req/s after 12,000
                # writes; 1,300 with plans made for each execution's values).
                connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
                **JSON_OPTIONS,
            )
            self.write_engine = self.read_engine
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        # The API's record reads, on the driver alone (see `raw_reads.py`).
        self.raw = RawReads(url)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded engine."""
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; rolled back at the end."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends normally, rolled back otherwise.

        On SQLite, writers of this process queue on an asyncio lock: SQLite admits one writer at
        a time anyway, and its own busy handler waits by sleeping in growing steps, which under
        contention costs far more than the work itself. Other processes still meet `busy_timeout`.
        """
        if self._write_lock is None:
            async with self._write_sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock, self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for hot-path queries (no ORM session to build and tear down)."""
        async with self.read_engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core transaction, committed at the end; the same writer queue as `write()`."""
        if self._write_lock is None:
            async with self.write_engine.begin() as connection:
                yield connection
            return
        async with self._write_lock, self.write_engine.begin() as connection:
            yield connection

    async def refresh_statistics(self, tables: list[str]) -> None:
        """Let the query planner see how tables grew (after a sync wrote many rows).

        Without it PostgreSQL plans from the statistics of an almost empty table and sorts a
        whole integration's rows to serve one page. VACUUM (outside a transaction) also marks
        the new pages all-visible, so deep pages can skip rows by index alone.
        """
        if self.dialect == "postgresql":
            async with self.write_engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                for table in tables:
                    await autocommit.execute(text(f'VACUUM (ANALYZE) "{table}"'))
            return
        async with self.write_engine.connect() as connection:
            await connection.execute(text("PRAGMA optimize"))
            await connection.commit()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.raw.close()
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()
