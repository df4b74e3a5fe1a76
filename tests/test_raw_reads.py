"""The raw reads compare timestamps as SQLite stores them and take the URL options SQLAlchemy
takes (both found by an outside attack on the rewritten read path)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from propbridge.db.raw_reads import RawReads


def test_early_years_compare_as_sqlite_stores_them(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (at TEXT)")
        connection.execute("INSERT INTO t VALUES ('2026-01-02 03:04:05.000000')")
    raw = RawReads(f"sqlite+aiosqlite:///{path}")
    for year, expected in ((500, 1), (5, 1), (2026, 1), (3000, 0)):
        moment = raw.value(datetime(year, 1, 1, tzinfo=UTC))
        [rows] = asyncio.run(raw.fetch([("SELECT count(*) FROM t WHERE at >= ?", [moment])]))
        assert rows[0][0] == expected, (year, moment)
    asyncio.run(raw.close())


@pytest.mark.parametrize(
    "options", ["ssl=disable", "prepared_statement_cache_size=0", "command_timeout=30"]
)
def test_url_options_are_connection_options(postgres_url: str, options: str) -> None:
    url = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    raw = RawReads(f"{url}{'&' if '?' in url else '?'}{options}")

    async def read() -> object:
        try:
            [rows] = await raw.fetch([("SELECT 1 + ?", [1])])
            return rows[0][0]
        finally:
            await raw.close()

    assert asyncio.run(read()) == 2
