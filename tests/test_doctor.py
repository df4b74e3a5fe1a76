"""`propbridge doctor` as an operator runs it: against a real database and the bundled ResMan
sandbox, with a good setup and with each thing that goes wrong."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from propbridge.config import Settings
from propbridge.db.engine import Database
from propbridge.db.migrate import (
    current_revision,
    head_revision,
    pending_revisions,
    upgrade_database,
)
from propbridge.doctor import all_ok, diagnose
from propbridge.integrations.credentials import generate_key_text
from propbridge.integrations.models import Integration
from propbridge.sandbox.resman.seed import SeedSize
from propbridge.writes.models import WriteItem
from tests import factories
from tests.conftest import stack_of_its_own
from tests.support import LiveStack, free_port

PROPBRIDGE = [sys.executable, "-m", "propbridge"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PROPBRIDGE, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env(stack: LiveStack, **overrides: str) -> dict[str, str]:
    return {
        "PROPBRIDGE_DATABASE_URL": stack.settings.effective_database_url,
        "PROPBRIDGE_ENCRYPTION_KEY": stack.settings.encryption_key or "",
        "PROPBRIDGE_DATA_DIR": str(stack.settings.data_dir),
        **overrides,
    }


def _doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    done = _run(["doctor", "--json"], env)
    assert "Traceback" not in done.stderr, done.stderr
    results = json.loads(done.stdout)
    assert all(set(r) == {"check", "ok", "message", "fix"} for r in results)
    assert all((r["fix"] is None) == r["ok"] for r in results), results
    return done.returncode, {r["check"]: r for r in results}


@pytest.fixture(scope="module")
def doctor_stack(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """A stack on a database of this module's own: doctor reads every integration there, and
    other tests' integrations point at servers long gone."""
    yield from stack_of_its_own(database_url, tmp_path_factory, SeedSize(1, 3, 1))


def test_a_healthy_deployment_passes_every_check(doctor_stack: LiveStack) -> None:
    integration = doctor_stack.create_integration()
    code, checks = _doctor(_env(doctor_stack))
    assert code == 0, checks
    assert list(checks)[:5] == [
        "settings",
        "database",
        "migrations",
        "encryption_key",
        "stored_secrets",
    ]
    assert all(check["ok"] for check in checks.values())
    assert head_revision() in checks["migrations"]["message"]
    pms = checks[f"integration:{integration['id']}"]
    assert "took the credentials" in pms["message"] and "1 properties" in pms["message"]
    text = _run(["doctor"], _env(doctor_stack))
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert len(lines) == len(checks) and all(line.startswith("✓ ") for line in lines)


def test_writes_whose_reference_another_write_holds_are_listed(doctor_stack: LiveStack) -> None:
    """What the upgrade to per-account claims found: each held item, with its holder."""
    integration = doctor_stack.create_integration()

    async def plant(held_by: str | None) -> str:
        async with doctor_stack.runtime.database.write() as session:
            of = await session.get(Integration, integration["id"])
            assert of is not None
            write = await factories.write_request(session, of, job_state="failed")
            await factories.write_item(
                session, write, claim=False, reference_number="Dup-1", held_by_job_id=held_by
            )
            return write.job_id

    holder = doctor_stack.call(plant(None))
    held = doctor_stack.call(plant(holder))
    try:
        code, checks = _doctor(_env(doctor_stack))
        clashes = checks["reference_clashes"]
        assert code == 1 and not clashes["ok"]
        assert f"job {held}" in clashes["message"] and f"held by job {holder}" in clashes["message"]
        assert "'Dup-1'" in clashes["message"] and "a reference of its own" in clashes["fix"]
    finally:

        async def forget() -> None:
            async with doctor_stack.runtime.database.write() as session:
                await session.execute(
                    update(WriteItem)
                    .where(WriteItem.held_by_job_id == holder)
                    .values(held_by_job_id=None)
                )

        doctor_stack.call(forget())
        doctor_stack.http.delete(f"/v1/admin/integrations/{integration['id']}/")
    assert _doctor(_env(doctor_stack))[1]["reference_clashes"]["ok"]


def test_wrong_credentials_and_an_unreachable_pms_are_told_apart(doctor_stack: LiveStack) -> None:
    good = doctor_stack.create_integration()
    wrong = doctor_stack.create_integration(
        credentials={**doctor_stack.credentials(), "apiKey": "f" * 32}
    )
    # Nothing listens there: the connection is refused.
    gone = doctor_stack.create_integration(base_url=f"http://127.0.0.1:{free_port()}")
    try:
        code, checks = _doctor(_env(doctor_stack))
        assert code == 1
        assert checks[f"integration:{good['id']}"]["ok"]
        refused = checks[f"integration:{wrong['id']}"]
        assert not refused["ok"] and "refused the credentials (HTTP 401)" in refused["message"]
        assert f"PUT /v1/admin/integrations/{wrong['id']}/" in refused["fix"]
        unreachable = checks[f"integration:{gone['id']}"]
        assert not unreachable["ok"] and "unreachable" in unreachable["message"]
        assert "base_url" in unreachable["fix"]
        assert all(checks[name]["ok"] for name in ("database", "migrations", "stored_secrets"))

        # The outbound policy is the runtime's: with no allow-list, loopback is refused.
        code, checks = _doctor(_env(doctor_stack, PROPBRIDGE_OUTBOUND_ALLOWLIST=""))
        blocked = checks[f"integration:{good['id']}"]
        assert not blocked["ok"] and "not an allowed destination" in blocked["message"]
        assert "PROPBRIDGE_OUTBOUND_ALLOWLIST" in blocked["fix"]

        text = _run(["doctor"], _env(doctor_stack))
        assert text.returncode == 1
        [line] = [line for line in text.stdout.splitlines() if wrong["id"] in line]
        assert line.startswith("✗ ") and " — fix: " in line
    finally:
        for integration in (wrong, gone):
            doctor_stack.http.delete(f"/v1/admin/integrations/{integration['id']}/")


def test_a_wrong_or_missing_key_is_found_and_nothing_starts_with_it(
    doctor_stack: LiveStack,
) -> None:
    integration = doctor_stack.create_integration()
    hook = doctor_stack.http.post(
        "/v1/webhooks/", json={"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"]}
    ).json()["result"]
    try:
        env = _env(doctor_stack, PROPBRIDGE_ENCRYPTION_KEY=generate_key_text())
        code, checks = _doctor(env)
        assert code == 1 and checks["encryption_key"]["ok"]
        secrets = checks["stored_secrets"]
        counted = re.match(r"(\d+) of (\d+) stored secrets cannot be decrypted", secrets["message"])
        assert not secrets["ok"] and counted, secrets
        assert counted[1] == counted[2] and int(counted[1]) >= 2  # the integrations, the webhook
        assert "PROPBRIDGE_ENCRYPTION_KEY" in secrets["fix"]
        assert "cannot be decrypted" in checks[f"integration:{integration['id']}"]["message"]

        for args in (["sync", integration["id"]], ["serve", "--port", str(free_port())]):
            refused = _run(args, env)
            assert refused.returncode == 2, refused.stderr
            [line] = refused.stderr.strip().splitlines()
            assert line.startswith("error: ") and "cannot be decrypted" in line
            assert "fix: " in line

        # No key at all: PostgreSQL needs one; an SQLite deployment has no key file for what
        # is stored.
        code, checks = _doctor(_env(doctor_stack, PROPBRIDGE_ENCRYPTION_KEY=""))
        assert code == 1
        if doctor_stack.settings.is_embedded:
            # The database exists: no new key file would open it, so none is made.
            missing = checks["encryption_key"]
            assert not missing["ok"] and "is missing, and the database" in missing["message"]
            assert "restore" in missing["fix"]
            assert "there is no key" in checks["stored_secrets"]["message"]
        else:
            assert "PROPBRIDGE_ENCRYPTION_KEY is not set" in checks["encryption_key"]["message"]
            assert "propbridge keygen" in checks["encryption_key"]["fix"]
        assert not (doctor_stack.settings.data_dir / "encryption.key").exists()  # doctor made none
    finally:
        doctor_stack.http.delete(f"/v1/webhooks/{hook['id']}")


def _upgrade_to(url: str, revision: str) -> None:
    async def run() -> None:
        database = Database(url)
        await upgrade_database(database, target=revision)
        await database.dispose()

    asyncio.run(run())


def _revision(url: str) -> str | None:
    async def read() -> str | None:
        database = Database(url)
        try:
            return await current_revision(database)
        finally:
            await database.dispose()

    return asyncio.run(read())


def test_migrations_behind_are_reported_and_not_applied(own_database: str, tmp_path: Path) -> None:
    # In this process: no other connection to this database is open here (a second SQLite
    # engine on a file this process already uses would disturb the first one's locks).
    settings = Settings(
        database_url=own_database, encryption_key=generate_key_text(), data_dir=tmp_path
    )
    checks = {r.check: r for r in asyncio.run(diagnose(settings))}
    # No database file yet (SQLite) or an empty one (PostgreSQL): either way, migrate.
    unready = checks.get("migrations") or checks["database"]
    assert not unready.ok and "propbridge migrate" in (unready.fix or "")
    assert not all_ok(checks.values())

    _upgrade_to(own_database, "0003")
    behind = {r.check: r for r in asyncio.run(diagnose(settings))}["migrations"]
    assert not behind.ok and "revision 0003" in behind.message
    assert "propbridge migrate" in (behind.fix or "")
    assert _revision(own_database) == "0003"  # doctor applied nothing

    env = {
        "PROPBRIDGE_DATABASE_URL": own_database,
        "PROPBRIDGE_ENCRYPTION_KEY": settings.encryption_key or "",
        "PROPBRIDGE_DATA_DIR": str(tmp_path),
    }
    migrated = _run(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    # One short line, not Alembic's "Context impl …" / "Running upgrade …" per revision.
    applied = len(pending_revisions("0003"))
    assert migrated.stderr.strip().splitlines() == [
        f"database schema upgraded to {head_revision()} ({applied} migrations)"
    ]
    again = _run(["migrate"], env)
    assert again.stderr.strip() == "database is up to date"
    assert all_ok(asyncio.run(diagnose(settings)))
