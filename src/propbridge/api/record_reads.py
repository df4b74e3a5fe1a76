"""The SQL of record reads: a caller's scope, filters, order and page as SQL text, read with the
driver alone (`db/raw_reads.py`) in as few hand-offs as the caches allow.

What stays in memory between requests is only what a version check proves current: the
integrations each allow-list may see and exact totals, both keyed by the versions of the tables
they come from (`db/table_versions.py`), which every read fetches in the same hand-off as its
page; and, for deep pages, where every 1,000th row of an ordering starts. Never a result: every
page is read from the database.
"""

# SQL text is built here from names the models give (never the client's) and `?` placeholders:
# ruff: noqa: S608
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from propbridge.api.listing import DEFERRED_JOIN_OFFSET
from propbridge.auth.service import Principal
from propbridge.db.raw_reads import RawReads, RecordQuery, Rows, Statement
from propbridge.db.table_versions import versions_from, versions_statement

# Deep pages start from the nearest bookmark at or before their offset (one every this many
# rows of an ordering, found by one walk over the index and kept until the table changes).
BOOKMARK_EVERY = 1000
MAX_CACHE_ENTRIES = 4096


@dataclass(frozen=True)
class Page:
    """A page's rows (as selected), and the `meta.total` of its query."""

    rows: Rows
    total: int


Versions = tuple[int, int]  # of the model's table and of `integrations`


def bookmarkable(model: Any, order: Sequence[tuple[str, str]]) -> bool:
    """Deep pages of an ordering can start from bookmarks when it runs one way (the `id DESC`
    tie-break included, so descending) over columns that are never null: a row-value
    comparison then finds a bookmark's place by the index."""
    columns = model.__table__.columns
    return all(d == "desc" and not columns[name].nullable for name, d in order)


@dataclass(frozen=True)
class Scoped:
    """A query limited to what a principal may see: the WHERE text and its values, and the
    `integrations` version the visible integrations were read at."""

    where: str
    values: tuple[Any, ...]
    integrations_version: int


class RecordReads:
    """Reads pages and single records for a principal, with the version-checked caches of one
    process. Work that many requests would otherwise repeat at once (a count, a bookmark) is
    done by the first and awaited by the others."""

    def __init__(self, raw: RawReads) -> None:
        self.raw = raw
        self._visible: dict[Any, tuple[int, list[str]]] = {}
        self._totals: dict[Any, int] = {}
        # (table, where, values, order, offset) → (versions, the order values of the row there)
        self._bookmarks: dict[Any, tuple[Versions, tuple[Any, ...]]] = {}
        self._pending: dict[Any, asyncio.Future[Any]] = {}

    @staticmethod
    def _versions(table: str) -> Statement:
        return versions_statement((table, "integrations"))

    @staticmethod
    def _read_versions(rows: Rows, table: str) -> Versions:
        table_version, integrations_version = versions_from(rows, (table, "integrations"))
        return table_version, integrations_version

    @staticmethod
    def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
        if len(cache) >= MAX_CACHE_ENTRIES:
            cache.clear()
        cache[key] = value

    async def _once(self, key: Any, work: Callable[[], Awaitable[Any]]) -> Any:
        """`work()`, or the result of the same work another request already started."""
        pending = self._pending.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled
                return await self._once(key, work)  # the one doing the work was: do it here
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            result = await work()
        except Exception as error:
            future.set_exception(error)
            future.exception()  # marked retrieved: the waiters, if any, raise it themselves
            raise
        except BaseException:
            future.cancel()
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._pending[key]

    async def _visible_ids(
        self, principal: Principal, table: str, seen: int | None
    ) -> tuple[int, list[str]]:
        """The live integrations the principal may see, and the `integrations` version they
        were read at; read again when `seen` (the version a read just met) differs."""
        allowed = principal.integration_ids
        key = None if allowed is None else tuple(sorted(allowed))
        known = self._visible.get(key)
        if known is not None and (seen is None or known[0] == seen):
            return known
        sql = "SELECT id FROM integrations WHERE deleted_at IS NULL"
        if key is not None:
            sql += f" AND id IN ({', '.join('?' * len(key))})" if key else " AND 1 = 0"
        version_rows, id_rows = await self.raw.fetch([self._versions(table), (sql, key or ())])
        known = (self._read_versions(version_rows, table)[1], sorted(row[0] for row in id_rows))
        self._remember(self._visible, key, known)
        return known

    async def _scope(
        self, principal: Principal, query: RecordQuery, wanted: str | None, seen: int | None
    ) -> Scoped:
        version, ids = await self._visible_ids(principal, query.table, seen)
        if wanted is not None:
            ids = [wanted] if wanted in ids else []
        # The scope first, so that both engines walk the `(integration_id, …)` indexes.
        if len(ids) == 1:
            scope = "integration_id = ?"
        else:
            scope = f"integration_id IN ({', '.join('?' * len(ids))})" if ids else "1 = 0"
        values = (*ids, *(self.raw.value(v) for v in query.values))
        return Scoped(" AND ".join((scope, *query.conditions)), values, version)

    async def _read(
        self,
        principal: Principal,
        query: RecordQuery,
        wanted: str | None,
        build: Callable[[Scoped], list[Statement]],
        bounded: bool = False,
    ) -> tuple[Scoped, Versions, list[Rows]]:
        """Run what `build` makes of the query limited to the integrations the principal may
        see (and to `wanted`, if given), with the table versions read in the same hand-off;
        built and run again if the visible integrations had changed meanwhile."""
        seen: int | None = None
        while True:
            scoped = await self._scope(principal, query, wanted, seen)
            version_rows, *results = await self.raw.fetch(
                [self._versions(query.table), *build(scoped)], bounded
            )
            versions = self._read_versions(version_rows, query.table)
            if versions[1] == scoped.integrations_version:
                return scoped, versions, results
            seen = versions[1]

    async def one(
        self, principal: Principal, query: RecordQuery, columns: str, record_id: str
    ) -> Sequence[Any] | None:
        """One of the principal's records by id, or None."""

        def build(scoped: Scoped) -> list[Statement]:
            sql = f"SELECT {columns} FROM {query.table} WHERE {scoped.where} AND id = ?"
            return [(sql, [*scoped.values, record_id])]

        # By primary key within the scope: a bounded read.
        _, _, (rows,) = await self._read(principal, query, None, build, bounded=True)
        return rows[0] if rows else None

    async def page(
        self,
        principal: Principal,
        query: RecordQuery,
        wanted: str | None,
        columns: str,
        order: list[tuple[str, str]],
        offset: int,
        limit: int,
    ) -> Page:
        """One page of the principal's records matching `query`, in `order` (column names and
        asc/desc; `id DESC` breaks ties), with the exact total."""
        table = query.table
        order_sql = ", ".join(f"{name} {direction.upper()}" for name, direction in order)
        order_sql += ", id DESC"
        start = offset - offset % BOOKMARK_EVERY
        marked = start > 0 and offset >= DEFERRED_JOIN_OFFSET and bookmarkable(query.model, order)
        keys = ", ".join((*(name for name, _ in order), "id"))
        used: list[Any] = []  # the bookmark the last build relied on: (its key, versions)

        def build(scoped: Scoped) -> list[Statement]:
            used.clear()
            mark_key = (table, scoped.where, scoped.values, order_sql, start)
            mark = self._bookmarks.get(mark_key) if marked else None
            if mark is not None:
                used.append((mark_key, mark[0]))
                # From the bookmark, skip the rest over the ids alone (what is skipped is never
                # read from the table nor turned into its served text).
                sql = (
                    f"SELECT {columns} FROM {table} WHERE id IN (SELECT id FROM {table} "
                    f"WHERE {scoped.where} AND ({keys}) <= ({', '.join('?' * len(mark[1]))}) "
                    f"ORDER BY {order_sql} LIMIT ? OFFSET ?) ORDER BY {order_sql}"
                )
                return [(sql, [*scoped.values, *mark[1], limit, offset - start])]
            if offset < DEFERRED_JOIN_OFFSET:
                sql = (
                    f"SELECT {columns} FROM {table} WHERE {scoped.where} "
                    f"ORDER BY {order_sql} LIMIT ? OFFSET ?"
                )
                return [(sql, [*scoped.values, limit, offset])]
            # Deep, with no bookmark: skip over the ids alone (an index walk), then read just
            # this page's rows.
            sql = (
                f"SELECT {columns} FROM {table} WHERE id IN (SELECT id FROM {table} "
                f"WHERE {scoped.where} ORDER BY {order_sql} LIMIT ? OFFSET ?) ORDER BY {order_sql}"
            )
            return [(sql, [*scoped.values, limit, offset])]

        if marked:
            await self._find_bookmark(principal, query, wanted, keys, order_sql, start)
        scoped, versions, (rows,) = await self._read(principal, query, wanted, build)
        if used and used[0][1] != versions:
            # The table changed since the bookmark was found: it may point elsewhere now.
            self._bookmarks.pop(used[0][0], None)
            marked = False
            scoped, versions, (rows,) = await self._read(principal, query, wanted, build)
        total = await self._total(principal, query, wanted, scoped, versions)
        return Page(list(rows), total)

    async def _find_bookmark(
        self,
        principal: Principal,
        query: RecordQuery,
        wanted: str | None,
        keys: str,
        order_sql: str,
        start: int,
    ) -> None:
        """Note where the row at `start` of this ordering is (its order values and id), unless
        known for the table's current version: one walk over the index, shared by the requests
        that ask at once."""
        scoped = await self._scope(principal, query, wanted, None)
        mark_key = (query.table, scoped.where, scoped.values, order_sql, start)
        if mark_key in self._bookmarks:
            return  # checked against the version the page is read at

        async def walk() -> None:
            def build(scoped: Scoped) -> list[Statement]:
                sql = (
                    f"SELECT {keys} FROM {query.table} WHERE {scoped.where} "
                    f"ORDER BY {order_sql} LIMIT 1 OFFSET ?"
                )
                return [(sql, [*scoped.values, start])]

            found, versions, (rows,) = await self._read(principal, query, wanted, build)
            if rows:
                key = (query.table, found.where, found.values, order_sql, start)
                self._remember(self._bookmarks, key, (versions, tuple(rows[0])))

        await self._once(("bookmark", mark_key), walk)

    async def _total(
        self,
        principal: Principal,
        query: RecordQuery,
        wanted: str | None,
        scoped: Scoped,
        versions: Versions,
    ) -> int:
        """The exact number of the principal's records matching `query` (`scoped` as a read of
        it just ran), counted once per version of the tables it depends on."""
        key = (query.table, scoped.where, scoped.values, versions)
        total = self._totals.get(key)
        if total is not None:
            return total

        async def count() -> int:
            def build(scoped: Scoped) -> list[Statement]:
                return [(f"SELECT count(*) FROM {query.table} WHERE {scoped.where}", scoped.values)]

            now, now_versions, (rows,) = await self._read(principal, query, wanted, build)
            counted = int(rows[0][0])
            self._remember(
                self._totals, (query.table, now.where, now.values, now_versions), counted
            )
            return counted

        result: int = await self._once(("total", key), count)
        return result
