"""The floor of the seed POST: what `POST /v1/resident-charges/resman/` cannot do with less.

A raw ASGI app served by uvicorn exactly as `propbridge serve` serves the API (httptools,
uvloop, no access log), doing per request what the real route must: authenticate the bearer
token (one indexed query on `api_keys`), parse and validate the same JSON (one parse, a pydantic
model with the same fields and constraints), look up the integration, the resident with their
lease and the charge code (one indexed query each, raw SQL on the driver alone: aiosqlite or
asyncpg), then record the write request, its item and its job in a group commit (requests that
arrive together share one transaction, with the same dedupe query the recorder makes) and
answer `{"meta": {"job_id"}, "result": {...}}` once the rows are committed.

No framework, no ORM, no SQLAlchemy: whatever the real path costs beyond this is overhead.
Started by `bench_writes.py` against the database the bench created:

    python bench/floor_post.py --port 8300 --database sqlite:///path/propbridge.db
    python bench/floor_post.py --port 8300 --database postgresql://postgres@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol

import orjson
import uvicorn
import uvloop
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError

sys.path.insert(0, str(Path(__file__).parent))
from floor_reads import send_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_BATCH = 256
WRITE_MAX_ATTEMPTS = 5
PATH = "/v1/resident-charges/resman/"

# ---- The body: the same fields and constraints as the real route's model -----------------------

DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$"
)
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if NOT_XML.search(value) is not None:
        raise ValueError("contains a character ResMan's XML cannot carry")
    return value


def _date_time(value: str) -> str:
    if not DATE_TIME.match(value):
        raise ValueError("must be an ISO-8601 date-time")
    moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    if not 1900 <= moment.year <= 2099:
        raise ValueError("must be a date between 1900 and 2099")
    return value


Text = Annotated[StrictStr, Field(min_length=1, max_length=1000), AfterValidator(_not_blank)]
Identifier = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
DateTimeText = Annotated[StrictStr, AfterValidator(_date_time)]
Cents = Annotated[StrictInt, Field(gt=0, le=99_999_999_999)]


class Charge(BaseModel):
    """`POST /v1/resident-charges/resman/`: every field required and non-empty."""

    model_config = ConfigDict(extra="forbid")

    resident_id: Identifier
    charge_code_id: Identifier
    batch_id: Identifier
    transaction_date: DateTimeText
    description: Text
    notes: Text
    amount_in_cents: Cents
    reference_number: Identifier
    integration_id: Identifier


class Refused(Exception):
    """An answer other than 200, with the error envelope."""

    def __init__(self, status: int, code: str, message: str, issues: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"code": code, "message": message}}
        if issues is not None:
            self.body["error"]["details"] = {"issues": issues, "name": "ValidationError"}


def _bad(message: str, field_name: str, problem: str) -> Refused:
    return Refused(400, "invalid_request", message, [{"path": [field_name], "message": problem}])


# ---- Storage: one class per driver, the same statements ------------------------------------------

AUTH = (
    "SELECT id, scopes, integration_ids, revoked_at, expires_at FROM api_keys "
    "WHERE token_hash = {0}"
)
INTEGRATION = "SELECT vendor, account_key FROM integrations WHERE id = {0} AND deleted_at IS NULL"
RESIDENT = (
    "SELECT r.property_id, r.x_property_id, l.x_id, l.unit_number FROM residents r "
    "LEFT JOIN leases l ON l.integration_id = r.integration_id "
    "AND l.x_property_id = r.x_property_id AND l.x_id = r.x_lease_id "
    "WHERE r.id = {0} AND r.integration_id = {1}"
)
CODE = (
    "SELECT property_id, category_type, code FROM charge_codes "
    "WHERE id = {0} AND integration_id = {1}"
)
REQUEST_COLUMNS = (
    "id, integration_id, account_key, operation, request_body, body_hash, dedupe_key, job_id, "
    "errors, retry_of, retry_root, created_at, updated_at"
)
ITEM_COLUMNS = (
    "id, write_request_id, position, kind, status, reference_number, batch_id, "
    "amount_in_cents, x_property_id, x_lease_id, upstream"
)
JOB_COLUMNS = (
    "id, kind, integration_id, concurrency_key, payload, state, attempt, max_attempts, "
    "run_after, created_at, updated_at"
)


def _placeholders(style: str, count: int) -> list[str]:
    return ["?"] * count if style == "qmark" else [f"${n}" for n in range(1, count + 1)]


def _sql(template: str, style: str) -> str:
    return template.format(*_placeholders(style, template.count("{")))


def _insert(table: str, columns: str, style: str) -> str:
    marks = ", ".join(_placeholders(style, columns.count(",") + 1))
    # Table and column names are this module's constants; values go in as parameters.
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608


@dataclass
class Pending:
    """A validated, resolved charge waiting for its group commit."""

    body: dict[str, Any]
    digest: str
    dedupe_key: str
    integration_id: str
    account_key: str
    item: dict[str, Any]
    future: asyncio.Future[str] = field(repr=False)


# One lookup: SQL and its values in, the first row (or None) out.
Lookup = Callable[..., Awaitable[tuple[Any, ...] | None]]


class Store(Protocol):
    def reader(self) -> AbstractAsyncContextManager[Lookup]: ...

    async def commit(self, batch: list[Pending]) -> list[str | Refused]: ...


def _new_id() -> str:
    """A UUIDv7, as the real path makes them."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def _rows(
    batch: list[Pending],
    seen: dict[str, tuple[str, str]],
    stamp: Any,
    json_out: Callable[[Any], Any],
) -> tuple[
    list[str | Refused], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]
]:
    """The rows of a batch (dedupe against `seen` and within the batch), and each outcome."""
    outcomes: list[str | Refused] = []
    requests: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    jobs: list[tuple[Any, ...]] = []
    for pending in batch:
        first = seen.get(pending.dedupe_key)
        if first is not None:
            if first[1] == pending.digest:
                outcomes.append(first[0])
            else:
                outcomes.append(Refused(409, "duplicate_reference", "already used"))
            continue
        request_id, job_id, item_id = _new_id(), _new_id(), _new_id()
        requests.append(
            (
                request_id,
                pending.integration_id,
                pending.account_key,
                "resident_charge",
                json_out(pending.body),
                pending.digest,
                pending.dedupe_key,
                job_id,
                json_out([]),
                None,
                None,
                stamp,
                stamp,
            )
        )
        item = pending.item
        items.append(
            (
                item_id,
                request_id,
                0,
                "charge",
                "PENDING",
                item["reference_number"],
                item["batch_id"],
                item["amount_in_cents"],
                item["x_property_id"],
                item["x_lease_id"],
                json_out(item["upstream"]),
            )
        )
        jobs.append(
            (
                job_id,
                "write",
                pending.integration_id,
                None,
                json_out({"write_request_id": request_id}),
                "queued",
                0,
                WRITE_MAX_ATTEMPTS,
                stamp,
                stamp,
                stamp,
            )
        )
        seen[pending.dedupe_key] = (job_id, pending.digest)
        outcomes.append(job_id)
    return outcomes, requests, items, jobs


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqliteStore:
    """aiosqlite: a few autocommit read connections (each its own thread), one writer."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.readers: list[Any] = []
        self.writer: Any = None
        self.turn = itertools.count()
        self.auth, self.integration, self.resident, self.code = (
            _sql(s, "qmark") for s in (AUTH, INTEGRATION, RESIDENT, CODE)
        )
        self.inserts = [
            _insert("write_requests", REQUEST_COLUMNS, "qmark"),
            _insert("write_items", ITEM_COLUMNS, "qmark"),
            _insert("jobs", JOB_COLUMNS, "qmark"),
        ]

    async def _connect(self) -> Any:
        import aiosqlite

        connection = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in ("synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON"):
            await connection.execute(f"PRAGMA {pragma}")
        return connection

    async def open(self) -> None:
        self.readers = [await self._connect() for _ in range(4)]
        self.writer = await self._connect()

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Lookup]:
        """A request's lookups, on the next reader (one thread hand-off per statement)."""
        connection = self.readers[next(self.turn) % len(self.readers)]

        async def lookup(sql: str, *args: Any) -> tuple[Any, ...] | None:
            rows = await connection.execute_fetchall(sql, args)
            return tuple(rows[0]) if rows else None

        yield lookup

    async def commit(self, batch: list[Pending]) -> list[str | Refused]:
        writer = self.writer
        keys = sorted({p.dedupe_key for p in batch})
        await writer.execute("BEGIN IMMEDIATE")
        try:
            # Only placeholders are joined in; the keys go in as parameters.
            marks = ", ".join("?" * len(keys))
            found = await writer.execute_fetchall(
                "SELECT dedupe_key, job_id, body_hash, request_body FROM write_requests "  # noqa: S608
                f"WHERE dedupe_key IN ({marks})",
                keys,
            )
            seen = {row[0]: (row[1], row[2]) for row in found}
            stamp = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            outcomes, requests, items, jobs = _rows(batch, seen, stamp, _json_text)
            if requests:
                for sql, rows in zip(self.inserts, (requests, items, jobs), strict=True):
                    await writer.executemany(sql, rows)
            await writer.execute("COMMIT")
        except BaseException:
            await writer.execute("ROLLBACK")
            raise
        return outcomes


class PostgresStore:
    """asyncpg: a pool for the requests' lookups, one connection for the group commits."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: Any = None
        self.writer: Any = None
        self.auth, self.integration, self.resident, self.code = (
            _sql(s, "numeric") for s in (AUTH, INTEGRATION, RESIDENT, CODE)
        )
        self.inserts = [
            _insert("write_requests", REQUEST_COLUMNS, "numeric"),
            _insert("write_items", ITEM_COLUMNS, "numeric"),
            _insert("jobs", JOB_COLUMNS, "numeric"),
        ]

    async def open(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        # Lookups leave no session state behind: connections go back without a reset round trip.
        self.pool = await asyncpg.create_pool(self.url, min_size=10, max_size=10, reset=_no_reset)
        self.writer = await asyncpg.connect(self.url)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Lookup]:
        """A request's lookups, on one pooled connection."""
        async with self.pool.acquire() as connection:

            async def lookup(sql: str, *args: Any) -> tuple[Any, ...] | None:
                row = await connection.fetchrow(sql, *args)
                return None if row is None else tuple(row)

            yield lookup

    async def commit(self, batch: list[Pending]) -> list[str | Refused]:
        keys = sorted({p.dedupe_key for p in batch})
        connection = self.writer
        async with connection.transaction():
            found = await connection.fetch(
                "SELECT dedupe_key, job_id, body_hash, request_body FROM write_requests "
                "WHERE dedupe_key = ANY($1::varchar[])",
                keys,
            )
            seen = {row[0]: (row[1], row[2]) for row in found}
            outcomes, requests, items, jobs = _rows(batch, seen, datetime.now(UTC), _json_text)
            if requests:
                for sql, rows in zip(self.inserts, (requests, items, jobs), strict=True):
                    await connection.executemany(sql, rows)
        return outcomes


# ---- Group commit ---------------------------------------------------------------------------


class GroupCommit:
    """One task drains the waiting charges and commits each batch in one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.queue: list[Pending] = []
        self.task: asyncio.Task[None] | None = None

    async def record(self, pending: Pending) -> str:
        self.queue.append(pending)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        return await pending.future

    async def _drain(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
            try:
                outcomes: list[str | BaseException] = list(await self.store.commit(batch))
            except Exception as error:
                outcomes = [error] * len(batch)
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)


# ---- The app ---------------------------------------------------------------------------------


class FloorApp:
    """The raw ASGI app: one route, everything inline."""

    def __init__(self, database: str) -> None:
        self.store: SqliteStore | PostgresStore
        if database.startswith("sqlite:///"):
            self.store = SqliteStore(database.removeprefix("sqlite:///"))
        else:
            self.store = PostgresStore(database)
        self.recorder = GroupCommit(self.store)
        self.opened: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.opened is None:
            self.opened = asyncio.ensure_future(self.store.open())
        await self.opened
        status, answer = 200, b""
        try:
            if scope["method"] != "POST" or scope["path"] != PATH:
                raise Refused(404, "not_found", "No such route")
            answer = await self.post(scope, receive)
        except Refused as refused:
            status, answer = refused.status, orjson.dumps(refused.body)
        await send_json(send, status, answer)

    async def post(self, scope: Scope, receive: Receive) -> bytes:
        authorization = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(401, "unauthorized", "Missing or malformed Authorization header")
        store = self.store
        async with store.reader() as lookup:
            token_hash = hashlib.sha256(token.strip().encode()).hexdigest()
            key = await lookup(store.auth, token_hash)
            if key is None or key[3] is not None or (key[4] is not None and _expired(key[4])):
                raise Refused(401, "unauthorized", "Unknown, expired or revoked API key")
            scopes = orjson.loads(key[1]) if isinstance(key[1], str | bytes) else key[1]
            if "write" not in scopes:
                raise Refused(403, "forbidden", "This API key lacks the 'write' scope")
            allowed = orjson.loads(key[2]) if isinstance(key[2], str | bytes) else key[2]

            chunks = []
            size = 0
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise Refused(413, "payload_too_large", "Request body too large")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            try:
                charge = Charge.model_validate(orjson.loads(b"".join(chunks)))
            except orjson.JSONDecodeError:
                raise Refused(400, "invalid_request", "The body is not valid JSON", []) from None
            except PydanticValidationError as error:
                issues = [{"path": list(e["loc"]), "message": e["msg"]} for e in error.errors()]
                raise Refused(400, "invalid_request", "The request is not valid", issues) from None

            integration_id = charge.integration_id
            vendor = await lookup(store.integration, integration_id)
            if vendor is None:
                raise _bad(
                    "integration_id does not name an integration", "integration_id", "unknown"
                )
            if allowed is not None and integration_id not in allowed:
                raise Refused(403, "forbidden", "This API key may not write to this integration")
            if vendor[0] != "RESMAN":
                raise Refused(405, "operation_not_supported", "not supported")
            resident = await lookup(store.resident, charge.resident_id, integration_id)
            code = await lookup(store.code, charge.charge_code_id, integration_id)
        if resident is None or resident[0] is None:
            raise _bad("The charge names records that cannot take it", "resident_id", "not found")
        if resident[2] is None:
            raise _bad("The charge names records that cannot take it", "resident_id", "no lease")
        if code is None or code[0] != resident[0] or code[1] != "Charge" or not code[2]:
            raise _bad("The charge names records that cannot take it", "charge_code_id", "bad")

        body = charge.model_dump()
        item = {
            "reference_number": charge.reference_number,
            "batch_id": charge.batch_id,
            "amount_in_cents": charge.amount_in_cents,
            "x_property_id": resident[1],
            "x_lease_id": resident[2],
            "upstream": {
                "customer_id": resident[2],
                "unit_id": resident[3],
                "transaction_date": charge.transaction_date[:10],
                "description": charge.description,
                "notes": charge.notes,
                "charge_code": code[2],
            },
        }
        pending = Pending(
            body=body,
            # The same digest the real path stores (stdlib JSON, sorted keys).
            digest=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
            dedupe_key="\x1f".join(
                (integration_id, "resident_charge", charge.batch_id, charge.reference_number)
            ),
            integration_id=integration_id,
            account_key=vendor[1],
            item=item,
            future=asyncio.get_running_loop().create_future(),
        )
        job_id = await self.recorder.record(pending)
        return orjson.dumps({"meta": {"job_id": job_id}, "result": body})


async def _no_reset(_connection: Any) -> None:
    return None


def _expired(value: Any) -> bool:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return bool(value <= datetime.now(UTC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--database", required=True, help="sqlite:///PATH or postgresql://…")
    args = parser.parse_args()
    config = uvicorn.Config(
        FloorApp(args.database),
        host=args.host,
        port=args.port,
        http="httptools",
        loop="none",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    # As `propbridge serve` runs: the server's own loop is uvloop's.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
