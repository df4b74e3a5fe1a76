"""Test support: a live propbridge stack (API, worker, scheduler, ResMan sandbox) in a thread,
the database URLs of both engines, and the Propexo OpenAPI oracle."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from propbridge.auth.service import SCOPES, issue_api_key
from propbridge.clock import Clock, using
from propbridge.config import Settings
from propbridge.db.migrate import upgrade_database
from propbridge.integrations.credentials import generate_key_text
from propbridge.runtime import Runtime
from propbridge.sandbox.resman.app import SandboxConfig, create_sandbox_app
from propbridge.sandbox.resman.seed import SeedSize, seed_store
from propbridge.sandbox.resman.store import SandboxStore
from propbridge.serving import HttpApp, run_stack

T = TypeVar("T")
SHARED = Path(__file__).resolve().parents[2] / "shared"
OPENAPI = SHARED / "reference" / "propexo-openapi.yml"
SAMPLES = SHARED / "reference" / "resman-samples"
IN_CI = os.environ.get("CI") == "true"
# The day a stack lives on unless a test picks another: no test depends on the calendar.
DEFAULT_NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_up(url: str) -> bool:
    """Whether something answers `url` without a server error (for waiting on processes)."""
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.TransportError:
        return False


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll until `predicate` returns something truthy (bounded; this is not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class LiveStack:
    """propbridge and a seeded ResMan sandbox served on loopback from a background event loop,
    all on one clock that starts at `now`."""

    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        seed: SeedSize | None = None,
        encryption_key: str | None = None,
        now: datetime = DEFAULT_NOW,
        **settings: Any,
    ) -> None:
        self.clock = Clock.starting_at(now)
        self.settings = Settings(
            **{
                "database_url": database_url,
                "data_dir": data_dir,
                "encryption_key": encryption_key or generate_key_text(),
                "worker_poll_seconds": 0.05,
                "job_lease_seconds": 30,
                "webhook_first_retry_seconds": 0.05,
                **settings,
            }
        )
        self.sandbox_config = SandboxConfig(clock=self.clock.now)
        self.sandbox_store = SandboxStore()
        seed_store(self.sandbox_store, seed or SeedSize(), self.clock.today())
        self.port, self.sandbox_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runtime: Runtime = self.call(self._start())
        self.admin_token = self.new_token()
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=30,
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        self.sandbox = httpx.Client(base_url=self.sandbox_url, timeout=30)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the stack's loop, on the stack's clock, and wait for it."""

        async def on_clock() -> T:
            with using(self.clock):
                return await coroutine

        return asyncio.run_coroutine_threadsafe(on_clock(), self.loop).result(timeout=120)

    async def _start(self) -> Runtime:
        runtime = Runtime.from_settings(self.settings, self.clock)
        await upgrade_database(runtime.database)
        self.stop, started = asyncio.Event(), asyncio.Event()
        sandbox = HttpApp(
            create_sandbox_app(self.sandbox_store, self.sandbox_config),
            "127.0.0.1",
            self.sandbox_port,
        )
        self.task = asyncio.create_task(
            run_stack(
                runtime,
                self.stop,
                api=("127.0.0.1", self.port),
                worker=True,
                scheduler=True,
                extra_apps=[sandbox],
                started=started,
            )
        )
        await asyncio.wait(
            [self.task, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if self.task.done():
            self.task.result()
        return runtime

    def new_token(
        self,
        scopes: list[str] | None = None,
        integrations: list[str] | None = None,
        rate_limit: int | None = None,
    ) -> str:
        async def make() -> str:
            async with self.runtime.database.write() as session:
                _key, token = await issue_api_key(
                    session, "test", scopes or list(SCOPES), integrations, rate_limit
                )
                return token

        return self.call(make())

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, timeout=30, headers=headers)

    def credentials(self) -> dict[str, str]:
        c = self.sandbox_config
        return {
            "integrationPartnerId": c.partner_id,
            "accountId": c.account_id,
            "apiKey": c.api_key,
        }

    def create_integration(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "integration_vendor": "RESMAN",
            "name": f"test {uuid.uuid4().hex[:8]}",
            "base_url": self.sandbox_url,
            "credentials": self.credentials(),
            # The sandbox is local: the budget and concurrency tests set their own.
            "max_request_frequency": 10_000,
            "max_request_cadence": "SECOND",
            "max_job_concurrency": 100,
            **overrides,
        }
        response = self.http.post("/v1/admin/integrations/", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["result"]
        return result

    def repoint(self, integration_id: str, base_url: str) -> None:
        """Send an integration's ResMan calls elsewhere (which takes the credentials again)."""
        response = self.http.put(
            f"/v1/admin/integrations/{integration_id}/",
            json={"base_url": base_url, "credentials": self.credentials()},
        )
        assert response.status_code == 200, response.text

    def sync(self, integration_id: str) -> dict[str, Any]:
        response = self.http.post(f"/v1/admin/integrations/{integration_id}/manual-sync")
        assert response.status_code == 200, response.text
        job_id = response.json()["result"]["job_id"]
        return self.wait_job(job_id)

    def wait_job(self, job_id: str) -> dict[str, Any]:
        from propbridge.jobs.models import Job

        async def state() -> dict[str, Any] | None:
            async with self.runtime.database.read() as session:
                job = await session.get(Job, job_id)
                if job is None or job.state in ("queued", "running"):
                    return None
                return {"state": job.state, "result": job.result, "error": job.last_error}

        return wait_for(lambda: self.call(state()))

    def writes_settled(self) -> None:
        """Wait until no write job is queued or running (one a test left behind would end, and
        emit its events, during the next test)."""
        from sqlalchemy import func, select

        from propbridge.jobs.kinds import JobKind
        from propbridge.jobs.models import ACTIVE_STATES, Job

        async def active() -> int:
            async with self.runtime.database.read() as session:
                statement = select(func.count(Job.id)).where(
                    Job.kind == JobKind.WRITE, Job.state.in_(ACTIVE_STATES)
                )
                return int((await session.execute(statement)).scalar_one())

        wait_for(lambda: self.call(active()) == 0, timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        try:
            asyncio.run_coroutine_threadsafe(
                asyncio.wait_for(asyncio.shield(self.task), 30), self.loop
            ).result(40)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.http.close()
            self.sandbox.close()


def synced_view(stack: LiveStack, integration: dict[str, Any]) -> dict[str, Any]:
    """What tests post with of an integration synced since: it, its residents and charge codes."""
    listed = {
        name: stack.http.get(
            path, params={"integration_id": integration["id"], "limit": 250}
        ).json()["results"]
        for name, path in (("residents", "/v1/residents/"), ("charge_codes", "/v1/charge-codes/"))
    }
    return {"integration": integration, **listed}


def list_all(stack: LiveStack, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a list route, page by page."""
    rows: list[dict[str, Any]] = []
    while True:
        page = stack.http.get(path, params={**params, "limit": 250, "offset": len(rows)}).json()
        rows += page["results"]
        if not page["meta"]["hasMore"]:
            return rows


def lease_balances(stack: LiveStack, integration_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Each lease's balance in cents as propbridge's live charges and payments add up, and as
    the sandbox's whole ledger does (charges up, payments and credits down; a reversal undoes
    what it reverses). Accounts without a lease are not leases' balances."""
    ours: dict[str, int] = defaultdict(int)
    for row in list_all(stack, "/v1/resident-charges/", integration_id=integration_id):
        if row["x_lease_id"]:
            ours[row["x_lease_id"]] += row["amount_in_cents"]
    for row in list_all(stack, "/v1/resident-payments/", integration_id=integration_id):
        if row["x_lease_id"]:
            ours[row["x_lease_id"]] -= row["amount_in_cents"]
    theirs: dict[str, int] = defaultdict(int)
    for lease_x_id in ours:
        ledger = stack.sandbox.get("/_sandbox/ledger", params={"lease_id": lease_x_id}).json()
        for tx in ledger["results"]:
            cents = int(Decimal(str(tx["amount"])) * 100)
            theirs[lease_x_id] += -cents if tx["type"] in ("Payment", "Credit") else cents
    return dict(ours), dict(theirs)


def propexo_document() -> dict[str, Any]:
    """Propexo's reference OpenAPI document (parsed once per process, with libyaml)."""
    document, _registry = _openapi()
    return document


@cache
def _openapi() -> tuple[dict[str, Any], Registry]:
    if not OPENAPI.exists():
        if IN_CI:
            raise AssertionError(f"{OPENAPI} is missing")
        pytest.skip("shared/reference/propexo-openapi.yml is not beside the checkout")
    document = yaml.load(OPENAPI.read_text(), Loader=yaml.CSafeLoader)
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    return document, Registry().with_resource("urn:propexo", resource)


def assert_matches_openapi(path: str, method: str, body: Any) -> None:
    """Validate a 200 body against the response schema Propexo publishes for that path."""
    document, registry = _openapi()
    operation = document["paths"][path][method]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    pointer = {"$ref": "urn:propexo#" + schema["$ref"][1:]} if "$ref" in schema else schema
    validator = jsonschema.Draft202012Validator(pointer, registry=registry)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


# Chromium as the tests start it: headless on a machine with a closed network, so no background
# calls to Google's services (the browser tests, the offline docs test and bench_console).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def read_http_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer read off a raw socket: its status, headers (names in lower case) and
    body (by its Content-Length). For tests that must control what is sent and when."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer's headers: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in an answer's body")
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes the connection (reading and dropping whatever it still
    sends) before the socket's own timeout."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True
