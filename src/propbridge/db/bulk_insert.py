"""Inserting a page of new synced records with the database driver's executemany.

SQLAlchemy's Core insert runs every value of every row through its type processors; for the
hundreds of thousands of rows of a first sync that is most of the Python time. The values are
converted here once per column kind instead, to exactly what those processors would produce, and
the statement still takes every value as a bound parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from propbridge.db.base import UTCDateTime

Convert = Callable[[Any], Any]


@functools.lru_cache(maxsize=1024)
def _sqlite_timestamp(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME storage format: naive UTC, microseconds, a space. Memoised:
    # a page's rows share their created/updated/seen instant.
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _as_is(value: Any) -> Any:
    return value


def _converter(column_type: Any, dialect: str) -> Convert:
    if isinstance(column_type, UTCDateTime):
        return _sqlite_timestamp if dialect == "sqlite" else _as_is
    if isinstance(column_type, JSON):
        return _json_text
    if isinstance(column_type, Boolean) and dialect == "sqlite":
        return _sqlite_bool
    return _as_is


@functools.cache
def _plan(table: Table, dialect: str, paramstyle: str) -> tuple[str, list[str], list[Convert]]:
    names = [column.key for column in table.columns]
    if paramstyle == "qmark":
        marks = ", ".join("?" for _ in names)
    elif paramstyle == "numeric_dollar":
        marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    else:
        marks = ", ".join("%s" for _ in names)
    quoted = ", ".join(f'"{name}"' for name in names)
    sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})'  # noqa: S608 (names are ours)
    return sql, names, [_converter(column.type, dialect) for column in table.columns]


async def insert_rows(
    connection: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    """INSERT every row (a dict by column key; absent keys are NULL) in one executemany."""
    if not rows:
        return
    dialect = connection.dialect
    sql, names, converters = _plan(table, dialect.name, dialect.paramstyle)
    pairs = list(zip(names, converters, strict=True))
    values = [tuple(convert(row.get(name)) for name, convert in pairs) for row in rows]
    await connection.exec_driver_sql(sql, values)
