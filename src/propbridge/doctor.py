"""`propbridge doctor`: can this deployment run, and if not, what to change.

Each check returns a `CheckResult` (what was found and, when something is wrong, the fix); the
CLI prints them, and uses the same checks to refuse to start with a one-line error. Nothing here
writes: no migration is applied, no key file made, no PMS record changed (one read per
integration).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from propbridge.clock import WALL_CLOCK, Clock
from propbridge.config import Settings, get_settings
from propbridge.connectors.base import ConnectorError, IntegrationAccess
from propbridge.db.engine import Database
from propbridge.db.migrate import (
    UnknownRevisionError,
    current_revision,
    head_revision,
    pending_revisions,
)
from propbridge.integrations.credentials import (
    ConfigurationError,
    CredentialCipher,
    StaticKeyProvider,
    decode_key,
    embedded_database_file,
)
from propbridge.integrations.models import Integration
from propbridge.integrations.service import first_page_count
from propbridge.outbound import OutboundPolicy, OutboundRefusedError
from propbridge.runtime import Runtime
from propbridge.webhooks.models import Webhook
from propbridge.writes import repository as writes_repository

# How long a database or a PMS may take to answer before the check says it did not.
DATABASE_SECONDS = 10.0
PMS_SECONDS = 20.0
# PMS reads in flight at once (each integration is one read).
PMS_CONCURRENCY = 8
# The database engines propbridge runs on, by backend.
DRIVERS = {"postgresql": "asyncpg", "sqlite": "aiosqlite"}

URL_FIX = (
    "set PROPBRIDGE_DATABASE_URL to postgresql://USER:PASSWORD@HOST:5432/NAME or "
    "sqlite:////absolute/path/propbridge.db (unset: the SQLite file under PROPBRIDGE_DATA_DIR)"
)
MIGRATE_FIX = "run `propbridge migrate` (serve and worker also migrate when they start)"
NEW_KEY_FIX = (
    "generate one with `propbridge keygen` and set PROPBRIDGE_ENCRYPTION_KEY to it "
    "(keep it: stored credentials cannot be read without it)"
)


def key_fix(settings: Settings) -> str:
    """What to do when the key does not open what is stored."""
    key_file = settings.data_dir / "encryption.key"
    if settings.encryption_key and settings.is_embedded and key_file.exists():
        return (
            "set PROPBRIDGE_ENCRYPTION_KEY to the key these secrets were stored with, or unset "
            f"it to use {key_file}"
        )
    if settings.encryption_key or not settings.is_embedded:
        return "set PROPBRIDGE_ENCRYPTION_KEY to the key these secrets were stored with"
    return (
        f"restore {key_file} from a backup, or set "
        "PROPBRIDGE_ENCRYPTION_KEY to the key these secrets were stored with"
    )


@dataclass(frozen=True)
class CheckResult:
    """One check: `ok`, what was found, and for a failure the fix."""

    check: str
    ok: bool
    message: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as `propbridge doctor --json` prints it."""
        return {"check": self.check, "ok": self.ok, "message": self.message, "fix": self.fix}


def passed(check: str, message: str) -> CheckResult:
    """A check that found nothing wrong."""
    return CheckResult(check, True, message)


def failed(check: str, message: str, fix: str) -> CheckResult:
    """A check that found something wrong, and how to put it right."""
    return CheckResult(check, False, message, fix)


# Settings ------------------------------------------------------------------------------------


def load_settings() -> tuple[Settings | None, CheckResult]:
    """The settings, or None and what is wrong with them (the value itself is never shown: it
    may be a secret)."""
    try:
        settings = get_settings()
    except ValidationError as error:
        names = sorted({"PROPBRIDGE_" + str(e["loc"][0]).upper() for e in error.errors()})
        problems = "; ".join(
            f"PROPBRIDGE_{str(e['loc'][0]).upper()}: {e['msg']}" for e in error.errors()
        )
        return None, failed(
            "settings", f"invalid settings: {problems}", f"correct or unset {', '.join(names)}"
        )
    try:
        OutboundPolicy.parse(settings.outbound_allowlist)
    except ValueError as error:
        return None, failed(
            "settings",
            f"PROPBRIDGE_OUTBOUND_ALLOWLIST: {error}",
            "list host names, addresses and CIDR ranges, comma-separated (or unset it)",
        )
    return settings, passed(
        "settings", f"loaded ({settings.environment}, log level {settings.log_level})"
    )


# Database ------------------------------------------------------------------------------------


def _where(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"the SQLite file {url.database}"
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def check_database_url(settings: Settings) -> CheckResult:
    """The URL parses, names an engine propbridge runs on and, for an SQLite file named
    explicitly, a directory that exists (a typo there would otherwise make a new empty
    database somewhere else)."""
    try:
        url = make_url(settings.effective_database_url)
        backend, driver = url.get_backend_name(), url.get_driver_name()
    except ArgumentError:
        return failed("database", "PROPBRIDGE_DATABASE_URL is not a database URL", URL_FIX)
    if DRIVERS.get(backend) != driver:
        return failed(
            "database",
            f"PROPBRIDGE_DATABASE_URL names {url.drivername!r} with no file or a driver "
            "propbridge does not use; it runs on PostgreSQL (postgresql://host/db) or an "
            "SQLite file (sqlite:///path/to/file.db, three slashes)",
            URL_FIX,
        )
    if backend == "sqlite" and settings.database_url:
        if not url.database or url.database == ":memory:":
            return failed("database", "PROPBRIDGE_DATABASE_URL names no SQLite file", URL_FIX)
        directory = Path(url.database).parent
        if not directory.is_dir():
            return failed(
                "database",
                f"the directory {directory} of PROPBRIDGE_DATABASE_URL does not exist",
                f"create it (mkdir -p {directory}) or correct PROPBRIDGE_DATABASE_URL",
            )
    return passed("database", f"{_where(url)} ({url.render_as_string(hide_password=True)})")


def explain_database_error(error: BaseException, url: URL) -> tuple[str, str]:
    """A failure to reach or open the database as a message and a fix."""
    where = _where(url)
    if isinstance(error, TimeoutError):
        return (
            f"{where} did not answer within {DATABASE_SECONDS:.0f} s",
            "check that it is up and reachable from here (host, port, firewall), or correct "
            "PROPBRIDGE_DATABASE_URL",
        )
    if isinstance(error, socket.gaierror):
        return (
            f"the database host {url.host!r} is not found",
            "correct the host in PROPBRIDGE_DATABASE_URL",
        )
    if isinstance(error, ConnectionRefusedError):
        return (
            f"{where} refused the connection (nothing listens there)",
            "start the database server, or correct the host and port in PROPBRIDGE_DATABASE_URL",
        )
    if isinstance(error, OSError):
        fix = "check the network to the database, or correct PROPBRIDGE_DATABASE_URL"
        if url.get_backend_name() == "sqlite":
            fix = "name a file propbridge may create and write in PROPBRIDGE_DATABASE_URL"
        return (f"cannot open {where}: {error.strerror or error}", fix)
    if isinstance(error, DBAPIError):
        code = getattr(error.orig, "sqlstate", None)
        reason = str(error.orig).strip() if error.orig is not None else str(error)
        if code == "3D000":
            return (
                f"{where}: {reason}",
                f"create it (createdb {url.database}), or correct PROPBRIDGE_DATABASE_URL",
            )
        if code in ("28000", "28P01"):
            return (
                f"{where} refused the login: {reason}",
                "correct the user or password in PROPBRIDGE_DATABASE_URL",
            )
        if url.get_backend_name() == "sqlite":
            return (
                f"cannot open {where}: {reason}",
                "check the file's directory and permissions, or correct PROPBRIDGE_DATABASE_URL",
            )
        return f"{where}: {reason}", "check the database server's log"
    return (
        f"{where}: {type(error).__name__}: {error}",
        "check PROPBRIDGE_DATABASE_URL and the database server",
    )


async def probe_database(database: Database) -> CheckResult:
    """One `SELECT 1`: is the database there, and does it let us in."""
    url = make_url(database.url)
    try:
        async with asyncio.timeout(DATABASE_SECONDS):
            async with database.read_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except (OSError, TimeoutError, SQLAlchemyError) as error:
        message, fix = explain_database_error(error, url)
        return failed("database", message, fix)
    return passed("database", f"{_where(url)} answers")


async def check_migrations(database: Database) -> tuple[bool, CheckResult]:
    """The database's schema revision against the newest this propbridge ships (nothing is
    applied); whether there is a schema at all."""
    head = head_revision()
    try:
        current = await current_revision(database)
    except (OSError, SQLAlchemyError) as error:
        message, fix = explain_database_error(error, make_url(database.url))
        return False, failed("migrations", f"cannot read the schema revision: {message}", fix)
    if current is None:
        return False, failed("migrations", f"no schema yet (the newest is {head})", MIGRATE_FIX)
    if current == head:
        return True, passed("migrations", f"the schema is current (revision {head})")
    try:
        pending = pending_revisions(current)
    except UnknownRevisionError as error:
        return True, failed(
            "migrations",
            str(error),
            "run the propbridge version that migrated this database (or a newer one)",
        )
    return True, failed(
        "migrations",
        f"the schema is at revision {current}, {len(pending)} behind the newest ({head})",
        MIGRATE_FIX,
    )


# Encryption ----------------------------------------------------------------------------------


def check_encryption_key(settings: Settings) -> tuple[CredentialCipher | None, CheckResult]:
    """The key the settings name, and whether it can be had (without making a key file: the
    first start does that)."""
    name = "encryption_key"
    if settings.encryption_key:
        try:
            provider = StaticKeyProvider(decode_key(settings.encryption_key))
        except ConfigurationError:
            return None, failed(
                name,
                "PROPBRIDGE_ENCRYPTION_KEY is not a base64-encoded 32-byte key",
                "set it to the key the data was stored with (a new deployment: "
                "`propbridge keygen`)",
            )
        return CredentialCipher(provider), passed(name, "PROPBRIDGE_ENCRYPTION_KEY is set")
    if settings.environment == "production" or not settings.is_embedded:
        needed = "in production" if settings.environment == "production" else "with PostgreSQL"
        return None, failed(
            name, f"PROPBRIDGE_ENCRYPTION_KEY is not set (needed {needed})", NEW_KEY_FIX
        )
    key_file = settings.data_dir / "encryption.key"
    if not key_file.exists():
        database = embedded_database_file(settings)
        if database is not None and database.exists() and database.stat().st_size > 0:
            return None, failed(
                name,
                f"{key_file} is missing, and the database {database} exists (a new key would "
                "open nothing it stores; none is made)",
                key_fix(settings),
            )
        return None, passed(name, f"no key file yet ({key_file} is made on the first start)")
    try:
        key_text = key_file.read_text()
    except OSError as error:
        return None, failed(
            name,
            f"cannot read {key_file}: {error.strerror}",
            "make it readable by this user (chmod 600, chown) or set PROPBRIDGE_ENCRYPTION_KEY",
        )
    try:
        provider = StaticKeyProvider(decode_key(key_text))
    except ConfigurationError:
        return None, failed(
            name,
            f"{key_file} does not hold a base64-encoded 32-byte key",
            f"restore {key_file} from a backup",
        )
    return CredentialCipher(provider), passed(name, f"key file {key_file}")


def _opens(cipher: CredentialCipher, associated: str, ciphertext: bytes) -> bool:
    try:
        cipher.decrypt(associated, bytes(ciphertext))
    except (ConfigurationError, ValueError):
        return False
    return True


async def check_stored_secrets(
    settings: Settings,
    database: Database,
    cipher: CredentialCipher | None,
    sample: int | None = None,
) -> CheckResult:
    """Decrypt every stored integration credential and webhook secret (`sample`: only that
    many of each, which tells a wrong key as surely as all of them do)."""
    name = "stored_secrets"
    tallies: list[tuple[str, int, int]] = []
    try:
        async with database.read() as session:
            for label, key, column in (
                ("integration credentials", Integration.id, Integration.credentials_ciphertext),
                ("webhook secrets", Webhook.id, Webhook.secret_ciphertext),
            ):
                statement = select(key, column).where(column.is_not(None))
                if sample is not None:
                    statement = statement.limit(sample)
                rows = (await session.execute(statement)).all()
                bad = sum(
                    1
                    for row_id, ciphertext in rows
                    if cipher is None or not _opens(cipher, str(row_id), ciphertext)
                )
                tallies.append((label, len(rows), bad))
    except SQLAlchemyError as error:
        return failed(name, f"cannot read the stored secrets: {type(error).__name__}", MIGRATE_FIX)
    total, bad = sum(t[1] for t in tallies), sum(t[2] for t in tallies)
    if total == 0:
        return passed(name, "no secrets stored yet")
    if cipher is None:
        return failed(
            name,
            f"{_secrets(total)} stored but there is no key to decrypt them",
            key_fix(settings),
        )
    if sample is not None:
        if bad:
            return failed(
                name,
                f"the stored secrets cannot be decrypted with this key ({bad} of {total} tried)",
                key_fix(settings),
            )
        return passed(name, f"the stored secrets decrypt with this key ({total} tried)")
    if bad:
        failures = ", ".join(f"{label}: {b} of {n}" for label, n, b in tallies if b)
        return failed(
            name,
            f"{bad} of {total} stored secrets cannot be decrypted with this key ({failures})",
            key_fix(settings),
        )
    counts = ", ".join(f"{n} {label}" for label, n, _ in tallies)
    every = "the stored secret decrypts" if total == 1 else f"all {total} stored secrets decrypt"
    return passed(name, f"{every} with this key ({counts})")


# Clashes listed by `reference_clashes` (the count says how many more there are).
CLASHES_LISTED = 20


async def check_reference_clashes(database: Database) -> CheckResult:
    """Writes made before references were claimed per PMS account that reuse a reference
    another write of the account holds: listed, never merged (they are not sent or reconciled
    by propbridge, and a person must say what each was)."""
    name = "reference_clashes"
    try:
        async with database.read() as session:
            total, rows = await writes_repository.held_items(session, CLASHES_LISTED)
    except SQLAlchemyError as error:
        return failed(name, f"cannot read the writes: {type(error).__name__}", MIGRATE_FIX)
    if not total:
        return passed(name, "no write reuses a reference another write of its PMS account holds")
    listed = [
        f"job {row.job_id} (integration {row.integration_id}, item {row.position}, "
        f"{row.status}): {row.reference_number!r} is held by job {row.held_by_job_id}"
        for row in rows
    ]
    more = f"; and {total - len(rows)} more" if total > len(rows) else ""
    return failed(
        name,
        f"{total} write item{'s' if total != 1 else ''} reuse{'s' if total == 1 else ''} a "
        "reference another write of the same PMS account holds (found when references came to "
        "be claimed per account; propbridge neither sends nor reconciles them): "
        + "; ".join(listed)
        + more,
        "look each reference up in the PMS (ResMan's Partner Transactions and the resident's "
        "ledger): the holder's write is credited with it; a held item that was a transaction "
        "of its own must be sent again as a new write with a reference of its own",
    )


def _secrets(count: int) -> str:
    return "1 secret is" if count == 1 else f"{count} secrets are"


# PMS credentials -----------------------------------------------------------------------------

# The HTTP statuses the PMS answered during one integration's check (a context variable: the
# checks run concurrently on one shared client).
_STATUSES: ContextVar[list[int] | None] = ContextVar("doctor_statuses", default=None)


async def _record_status(response: httpx.Response) -> None:
    seen = _STATUSES.get()
    if seen is not None:
        seen.append(response.status_code)


def _explain_pms_error(
    check: str,
    label: str,
    integration_id: str,
    where: str,
    error: ConnectorError,
    status: int | None,
) -> CheckResult:
    if status in (401, 403):
        return failed(
            check,
            f"{label}: the PMS refused the credentials (HTTP {status})",
            f"send the right credentials: PUT /v1/admin/integrations/{integration_id}/ with "
            "`credentials`",
        )
    if isinstance(error.__cause__, OutboundRefusedError):
        if "does not resolve" in error.message:
            # Not a matter of policy: the name has no address (a typo, or no DNS here).
            return failed(
                check,
                f"{label}: the PMS at {where} cannot be found ({error.message})",
                "check the integration's base_url and this machine's DNS",
            )
        return failed(
            check,
            f"{label}: {error.message}",
            "add the host to PROPBRIDGE_OUTBOUND_ALLOWLIST if propbridge should reach it, or "
            "correct the integration's base_url",
        )
    if status is None:
        return failed(
            check,
            f"{label}: the PMS at {where} is unreachable ({error.message})",
            "check the integration's base_url, DNS and the network between here and the PMS",
        )
    return failed(
        check,
        f"{label}: the PMS answered HTTP {status} ({error.message})",
        "try again later; if it persists, the PMS side needs looking at",
    )


async def _check_integration(runtime: Runtime, row: Any) -> CheckResult:
    check = f"integration:{row.id}"
    label = f"{row.name!r} ({row.vendor})"
    where = row.base_url or "its production hosts"
    try:
        credentials = runtime.cipher.decrypt(row.id, bytes(row.credentials_ciphertext))
    except (ConfigurationError, ValueError):
        return failed(
            check,
            f"{label}: its credentials cannot be decrypted with this key",
            key_fix(runtime.settings),
        )
    statuses: list[int] = []
    _STATUSES.set(statuses)
    try:
        async with asyncio.timeout(PMS_SECONDS):
            records = await first_page_count(
                row.vendor, IntegrationAccess(row.id, row.base_url, credentials), runtime.http()
            )
    except TimeoutError:
        return failed(
            check,
            f"{label}: the PMS at {where} did not answer within {PMS_SECONDS:.0f} s",
            "check the integration's base_url and the network between here and the PMS",
        )
    except ConnectorError as error:
        status = statuses[-1] if statuses else None
        return _explain_pms_error(check, label, row.id, where, error, status)
    except (KeyError, ValueError, httpx.HTTPError) as error:
        # A vendor without a connector, credentials missing a field, a base_url httpx refuses.
        return failed(
            check,
            f"{label}: cannot call the PMS ({type(error).__name__}: {error})",
            f"correct the integration: PUT /v1/admin/integrations/{row.id}/",
        )
    return passed(check, f"{label}: the PMS took the credentials ({records} properties read)")


async def check_integrations(runtime: Runtime) -> list[CheckResult]:
    """One read per live integration with its own credentials, through the runtime's client
    (so the outbound policy applies as it does to syncs)."""
    async with runtime.database.read() as session:
        rows = (
            await session.execute(
                select(
                    Integration.id,
                    Integration.name,
                    Integration.vendor,
                    Integration.base_url,
                    Integration.credentials_ciphertext,
                )
                .where(Integration.deleted_at.is_(None))
                .order_by(Integration.created_at, Integration.id)
            )
        ).all()
    http = runtime.http()
    http.event_hooks = {
        "request": list(http.event_hooks["request"]),
        "response": [*http.event_hooks["response"], _record_status],
    }
    gate = asyncio.Semaphore(PMS_CONCURRENCY)

    async def one(row: Any) -> CheckResult:
        async with gate:
            return await _check_integration(runtime, row)

    # Each runs in its own task, so each sees only its own statuses.
    return list(await asyncio.gather(*(one(row) for row in rows)))


# Ports ---------------------------------------------------------------------------------------


def check_port(host: str, port: int, option: str = "--port") -> CheckResult:
    """Whether `host:port` can be listened on (bound and released at once, with the address
    reuse the servers use, so a port in TIME_WAIT is not reported)."""
    check = f"port {port}"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return failed(
                    check,
                    f"{host}:{port} is already in use",
                    f"stop what listens there (ss -ltnp 'sport = :{port}') or choose another "
                    f"port with {option}",
                )
            if error.errno == errno.EACCES:
                return failed(
                    check,
                    f"not allowed to listen on {host}:{port}",
                    f"choose a port above 1023 with {option}",
                )
            return failed(
                check,
                f"cannot listen on {host}:{port}: {error.strerror or error}",
                "give --host an address of this machine (127.0.0.1, 0.0.0.0 or one of its "
                "interfaces)",
            )
    return passed(check, f"{host}:{port} is free")


# All of it -----------------------------------------------------------------------------------


def _missing_file(url: URL) -> CheckResult | None:
    """An SQLite file that is not there yet (opening it would make it)."""
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        return failed("database", f"there is no database at {url.database} yet", MIGRATE_FIX)
    return None


async def _open_database(settings: Settings) -> tuple[Database | None, CheckResult]:
    url = make_url(settings.effective_database_url)
    missing = _missing_file(url)
    if missing is not None:
        return None, missing
    try:
        database = Database(settings.effective_database_url)
    except (OSError, SQLAlchemyError) as error:
        message, fix = explain_database_error(error, url)
        return None, failed("database", message, fix)
    probed = await probe_database(database)
    if not probed.ok:
        await database.dispose()
        return None, probed
    return database, probed


async def diagnose(settings: Settings) -> list[CheckResult]:
    """Every check after the settings: the database, its schema, the key, the stored secrets,
    each integration's credentials at its PMS."""
    located = check_database_url(settings)
    database, reached = await _open_database(settings) if located.ok else (None, located)
    results = [reached]
    has_schema = False
    if database is not None:
        has_schema, migrations = await check_migrations(database)
        results.append(migrations)
    cipher, key = check_encryption_key(settings)
    results.append(key)
    if database is None:
        return results
    if not has_schema or cipher is None:
        if has_schema:
            results.append(await check_stored_secrets(settings, database, cipher))
        await database.dispose()
        return results
    clock = Clock.starting_at(settings.now) if settings.now else WALL_CLOCK
    outbound = OutboundPolicy.parse(settings.outbound_allowlist)
    runtime = Runtime(settings, database, cipher, clock, outbound)
    try:
        results.append(await check_stored_secrets(settings, database, cipher))
        results.append(await check_reference_clashes(database))
        results.extend(await check_integrations(runtime))
    finally:
        await runtime.close()
    return results


def all_ok(results: Iterable[CheckResult]) -> bool:
    """Whether every check passed."""
    return all(result.ok for result in results)
