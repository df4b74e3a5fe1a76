"""The floor of the record reads: the least a server can do to answer the same requests.

A bare ASGI app (no framework) served by uvicorn with the options `propbridge serve` uses
(httptools, uvloop, no access log), one process. Per request it authenticates the bearer token
with one indexed lookup (`api_keys.token_hash`), then reads the same stored documents with one
query written by hand, with the driver alone (aiosqlite, a pool of four connections; or an
asyncpg pool), and answers the same envelope with `last_seen` spliced in. What it leaves out,
and so what propbridge pays for above it: no count (the total is counted once at start), no
parameter checks, scopes, rate limits, request ids or error handling; deep pages are a plain
OFFSET. Serves `GET /v1/resident-charges/` (`integration_id`, `limit`, `offset`, `resident_id`,
`transaction_date_start`, `transaction_date_end`) and `GET /v1/resident-charges/{id}`.

Run: `python bench/floor_reads.py DATABASE_URL PORT`.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
import uvicorn

COLUMNS = "document, last_seen"


async def send_json(send: Any, status: int, body: bytes) -> None:
    """An ASGI answer of JSON already encoded (the floors' one way to answer)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def stamp(value: Any) -> bytes:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return orjson.dumps(moment.isoformat(timespec="milliseconds")[:23] + "Z")


def documents(rows: list[Any]) -> bytes:
    return b",".join(row[0][:-1].encode() + b',"last_seen":' + stamp(row[1]) + b"}" for row in rows)


class Floor:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.connections: Any = None
        self.total = 0

    async def open(self) -> None:
        if self.sqlite:
            import aiosqlite

            path = self.url.split("///", 1)[1]
            self.connections = itertools.cycle([await aiosqlite.connect(path) for _ in range(4)])
        else:
            import asyncpg

            dsn = self.url.replace("postgresql+asyncpg", "postgresql")
            self.connections = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        self.total = (await self.fetch("SELECT count(*) FROM resident_charges", []))[0][0]

    async def fetch(self, sql: str, values: list[Any]) -> list[Any]:
        if self.sqlite:
            return list(await next(self.connections).execute_fetchall(sql, values))
        numbered = sql
        for n in range(1, len(values) + 1):
            numbered = numbered.replace("?", f"${n}", 1)
        async with self.connections.acquire() as connection:
            return list(await connection.fetch(numbered, *values))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            await self.open()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            del message
            return
        headers = dict(scope["headers"])
        token = headers.get(b"authorization", b"")[7:]
        key = await self.fetch(
            "SELECT id FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL",
            [hashlib.sha256(token).hexdigest()],
        )
        if not key:
            await send_json(send, 401, b'{"error":"unauthorized"}')
            return
        path: str = scope["path"]
        if path != "/v1/resident-charges/":
            record_id = path.rsplit("/", 1)[1]
            rows = await self.fetch(
                f"SELECT {COLUMNS} FROM resident_charges WHERE id = ?",  # noqa: S608
                [record_id],
            )
            meta = b'{"offset":0,"limit":100,"orderBy":[{"field":"created_at","direction":"desc"}],"hasMore":false,"total":1}'
            await send_json(send, 200, b'{"meta":' + meta + b',"results":' + documents(rows) + b"}")
            return
        params = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        where = ["integration_id = ?", "reversed_date IS NULL"]
        values: list[Any] = [params["integration_id"]]
        if "resident_id" in params:
            where.append("resident_id = ?")
            values.append(params["resident_id"])
        if "transaction_date_start" in params:
            where.append("transaction_date >= ?")
            values.append(params["transaction_date_start"][:10])
        if "transaction_date_end" in params:
            where.append("transaction_date <= ?")
            values.append(params["transaction_date_end"][:10])
        limit, offset = int(params.get("limit", 100)), int(params.get("offset", 0))
        rows = await self.fetch(
            f"SELECT {COLUMNS} FROM resident_charges WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            [*values, limit, offset],
        )
        meta = orjson.dumps(
            {
                "offset": offset,
                "limit": limit,
                "orderBy": [{"field": "created_at", "direction": "desc"}],
                "hasMore": offset + len(rows) < self.total,
                "total": self.total,
            }
        )
        await send_json(send, 200, b'{"meta":' + meta + b',"results":[' + documents(rows) + b"]}")


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(
        Floor(url),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
