"""The `propbridge` command: serve, worker, migrate, demo, sync, api-keys, sandbox, keygen, doctor.

Argument parsing, process start-up and printing only; the work (and the checks `doctor` runs)
is done by the packages it calls. Every refusal is one line, `error: … — fix: …`, on stderr
(`_fail`), never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
import uvloop
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

# Typer's own click: a type whose help shows no `<str>` beside an argument's name.
from typer._click.core import Context, Parameter
from typer._click.types import StringParamType

from propbridge import __version__
from propbridge.clock import WALL_CLOCK, Clock, set_clock
from propbridge.config import Settings
from propbridge.integrations.credentials import ConfigurationError, generate_key_text
from propbridge.logging_setup import configure_logging, logs_through

if TYPE_CHECKING:
    # Imported where used: `--help`, `--version` and `keygen` need neither Alembic nor the
    # database layer.
    from propbridge.doctor import CheckResult
    from propbridge.runtime import Runtime
    from propbridge.sandbox.resman.seed import SeedSize
    from propbridge.sandbox.resman.store import SandboxStore

app = typer.Typer(
    help="propbridge: a Propexo-compatible unified API for property-management systems.",
    no_args_is_help=True,
    add_completion=False,
)
api_keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Run a PMS sandbox.", no_args_is_help=True)
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(sandbox_app, name="sandbox")
console = Console(stderr=True)
T = TypeVar("T")


class _Word(StringParamType):
    """A string argument whose help shows its name alone."""

    def get_metavar(self, param: Parameter, ctx: Context) -> str:
        return ""


WORD = _Word()


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop (faster wake-ups between the loop and driver threads)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _fail(message: str, fix: str | None = None, code: int = 2) -> NoReturn:
    """The one way a command refuses: one line on stderr, with the fix, and an exit code (2: the
    configuration or the environment is wrong)."""
    line = f"[red]error:[/red] {escape(message)}"
    if fix:
        line += f" — fix: {escape(fix)}"
    console.print(line, soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _refuse(result: CheckResult) -> None:
    """Stop here when a check failed."""
    if not result.ok:
        _fail(result.message, result.fix)


def _settings() -> Settings:
    from propbridge.doctor import load_settings

    settings, loaded = load_settings()
    if settings is None:
        _fail(loaded.message, loaded.fix)
    return settings


def _runtime(settings: Settings | None = None) -> Runtime:
    from propbridge.doctor import check_database_url, check_encryption_key
    from propbridge.runtime import Runtime

    settings = settings or _settings()
    configure_logging(settings.log_level)
    # Checked before the runtime is made: making it creates the SQLite file and the key file.
    _refuse(check_database_url(settings))
    _refuse(check_encryption_key(settings)[1])
    try:
        runtime = Runtime.from_settings(settings)
    except ConfigurationError as error:
        _fail(str(error))
    except OSError as error:
        _fail(
            f"cannot create {error.filename or 'a file'}: {error.strerror or error}",
            "check PROPBRIDGE_DATA_DIR and PROPBRIDGE_DATABASE_URL, and this user's permissions",
        )
    set_clock(runtime.clock)  # the command's event loop copies this context
    return runtime


async def _migrated(runtime: Runtime, *, check_key: bool = False) -> list[str]:
    """Reach the database, bring its schema up to date (saying so in one line when something
    was applied) and, with `check_key`, refuse a key that does not open what is stored."""
    from propbridge.db.migrate import UnknownRevisionError, upgrade_database
    from propbridge.doctor import check_stored_secrets, key_fix, probe_database
    from propbridge.webhooks.sealing import seal_plain_headers

    reached = await probe_database(runtime.database)
    if not reached.ok:
        await runtime.close()
        _refuse(reached)
    try:
        applied = await upgrade_database(runtime.database, runtime.cipher)
    except UnknownRevisionError as error:
        await runtime.close()
        _fail(str(error), "run the propbridge version that migrated it, or a newer one")
    except ConfigurationError as error:
        await runtime.close()
        _fail(f"the database was not upgraded: {error}", key_fix(runtime.settings))
    if applied:
        plural = "s" if len(applied) != 1 else ""
        console.print(
            f"database schema upgraded to {applied[-1]} ({len(applied)} migration{plural})"
        )
    if check_key:
        # One of each kind: a wrong key opens none of them.
        secrets = await check_stored_secrets(runtime.settings, runtime.database, runtime.cipher, 1)
        if not secrets.ok:
            await runtime.close()
            _refuse(secrets)
    try:
        async with runtime.database.write() as session:
            await seal_plain_headers(session, runtime.cipher)
    except ConfigurationError as error:
        await runtime.close()
        _fail(f"stored webhook secrets: {error}", key_fix(runtime.settings))
    return applied


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value))


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"propbridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """propbridge: a Propexo-compatible unified API for property-management systems."""


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    runtime = _runtime()

    async def main() -> list[str]:
        applied = await _migrated(runtime)
        await runtime.close()
        return applied

    if not run_async(main()):
        console.print("database is up to date")


@app.command()
def doctor(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array of {check, ok, message, fix}.")
    ] = False,
) -> None:
    """Check that this deployment can run, and say what to fix.

    Settings, database, schema, encryption key, stored secrets, each integration at its PMS.

    One read per integration; nothing is written. Exits 1 if anything is wrong.
    """
    from propbridge.doctor import all_ok, diagnose, load_settings

    settings, loaded = load_settings()
    results = [loaded]
    if settings is not None:
        configure_logging(settings.log_level)
        results += run_async(diagnose(settings))
    if as_json:
        _echo_json([result.as_dict() for result in results])
    else:
        out = Console(highlight=False)
        for result in results:
            mark = "[green]✓[/green]" if result.ok else "[red]✗[/red]"
            line = f"{mark} {escape(result.check)}: {escape(result.message)}"
            if result.fix:
                line += f" — fix: {escape(result.fix)}"
            out.print(line, soft_wrap=True)
    raise typer.Exit(0 if all_ok(results) else 1)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", metavar="PORT", min=1, max=65535, help="Port to listen on."),
    ] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only: run workers elsewhere.")
    ] = False,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            metavar="N",
            min=1,
            max=64,
            help="API processes sharing the port (one Python process uses one core).",
        ),
    ] = 1,
    reuse_port: Annotated[
        bool,
        typer.Option(
            "--reuse-port", help="Share the port with other propbridge processes.", hidden=True
        ),
    ] = False,
) -> None:
    """Run the API (with a worker and the scheduler unless --no-worker)."""
    from propbridge.doctor import check_port
    from propbridge.serving import (
        install_stop_signals,
        run_stack,
        start_api_processes,
        stop_processes,
    )

    settings = _settings()
    bind = (host or settings.host, settings.port if port is None else port)
    if not reuse_port:
        # The processes started with --reuse-port share the port this one checked.
        _refuse(check_port(*bind, option="--port (or PROPBRIDGE_PORT)"))
    runtime = _runtime(settings)

    async def main() -> None:
        await _migrated(runtime, check_key=True)
        stop = asyncio.Event()
        install_stop_signals(stop)
        children = start_api_processes(processes - 1, *bind) if processes > 1 else []
        try:
            if not reuse_port:
                console.print(
                    f"propbridge listening on http://{bind[0]}:{bind[1]}"
                    + (f" ({processes} API processes)" if processes > 1 else "")
                )
            await run_stack(
                runtime,
                stop,
                api=bind,
                worker=not no_worker,
                scheduler=not no_worker,
                reuse_port=reuse_port or processes > 1,
            )
        finally:
            stop_processes(children)

    run_async(main())


@app.command()
def worker() -> None:
    """Run a worker and the scheduler (no API)."""
    from propbridge.serving import install_stop_signals, run_stack

    runtime = _runtime()

    async def main() -> None:
        await _migrated(runtime, check_key=True)
        stop = asyncio.Event()
        install_stop_signals(stop)
        await run_stack(runtime, stop, api=None, worker=True, scheduler=True)

    run_async(main())


@app.command()
def keygen() -> None:
    """Print a new random encryption key for PROPBRIDGE_ENCRYPTION_KEY."""
    typer.echo(generate_key_text())


@app.command("rotate-key")
def rotate_key(
    new_key: Annotated[
        str | None,
        typer.Option(
            "--new-key",
            metavar="KEY",
            help="The new key (base64, 32 bytes); a random one when omitted.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print {reencrypted, key_file, new_key} as JSON on stdout instead."
        ),
    ] = False,
) -> None:
    """Re-encrypt every stored secret under a new encryption key, in one transaction.

    Embedded mode (key file): the file is replaced.

    With PROPBRIDGE_ENCRYPTION_KEY: the new key is printed, alone on the last line.

    Set it before the next start: the old key no longer opens anything.
    """
    from propbridge.doctor import key_fix
    from propbridge.integrations.credentials import (
        CredentialCipher,
        StaticKeyProvider,
        decode_key,
    )
    from propbridge.key_rotation import reencrypt_all

    runtime = _runtime()
    text = new_key or generate_key_text()
    try:
        new_cipher = CredentialCipher(StaticKeyProvider(decode_key(text)))
    except ConfigurationError as error:
        _fail(f"--new-key: {error}", "pass a key made by `propbridge keygen`, or omit --new-key")
    key_file = (
        None if runtime.settings.encryption_key else runtime.settings.data_dir / "encryption.key"
    )
    staged = key_file.with_suffix(".key.new") if key_file else None
    if staged is not None:
        # Written first: if the process dies after the commit, the new key is still on disk.
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)

    async def main() -> dict[str, int] | str:
        await _migrated(runtime)
        try:
            async with runtime.database.write() as session:
                return await reencrypt_all(session, runtime.cipher, new_cipher)
        except ConfigurationError as error:
            return str(error)
        finally:
            await runtime.close()

    try:
        counts = run_async(main())
    except typer.Exit:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    if isinstance(counts, str):
        if staged is not None:
            staged.unlink(missing_ok=True)
        _fail(f"{counts}; nothing was changed", key_fix(runtime.settings), code=1)
    console.print("re-encrypted: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    if key_file is not None and staged is not None:
        staged.replace(key_file)
        console.print(f"new key written to {key_file}")
    elif not as_json:
        console.print("set PROPBRIDGE_ENCRYPTION_KEY to the new key below before the next start")
        typer.echo(text)
    if as_json:
        _echo_json(
            {
                "reencrypted": counts,
                "key_file": str(key_file) if key_file else None,
                "new_key": None if key_file else text,
            }
        )


@api_keys_app.command("create")
def api_keys_create(
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="A label for the key.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            metavar="SCOPE",
            help="read, write or admin; repeat for several (default: all three).",
        ),
    ] = None,
    integration: Annotated[
        list[str] | None,
        typer.Option(
            "--integration",
            metavar="ID",
            help="Limit the key to this integration id; repeat for several.",
        ),
    ] = None,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            "--rate-limit",
            metavar="N",
            min=1,
            help="Requests per minute for this key (Propexo's default is 150).",
        ),
    ] = None,
    expires_in_days: Annotated[
        int | None,
        typer.Option(
            "--expires-in-days",
            metavar="DAYS",
            min=1,
            max=3650,
            help="The key stops working after N days.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the key, token included, as one JSON object.")
    ] = False,
) -> None:
    """Create an API key. The token is printed once, alone on the last line."""
    from propbridge.auth.service import SCOPES, issue_api_key, present_api_key

    scopes = scope or list(SCOPES)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        _fail(f"unknown scope(s): {', '.join(unknown)}", f"use {', '.join(SCOPES)}")
    if not name.strip():
        _fail("--name must not be empty", "give the key a label, e.g. --name ops")
    runtime = _runtime()

    async def main() -> tuple[dict[str, Any], str]:
        await _migrated(runtime)
        async with runtime.database.write() as session:
            key, token = await issue_api_key(
                session, name.strip(), scopes, integration, rate_limit, expires_in_days
            )
        await runtime.close()
        return present_api_key(key), token

    key, token = run_async(main())
    if as_json:
        _echo_json({**key, "token": token})
        return
    typer.echo(
        f"key id: {key['id']}  scopes: {', '.join(key['scopes'])}  integrations: "
        f"{', '.join(integration) if integration else 'all'}  rate limit: "
        f"{f'{rate_limit}/min' if rate_limit else 'deployment default'}  expires: "
        f"{key['expires_at'] or 'never'}"
    )
    typer.echo(token)


@api_keys_app.command("list")
def api_keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Every key: id, name, scopes, integrations, expiry, last use (never a token)."""
    from propbridge.auth.service import list_api_keys, present_api_key

    runtime = _runtime()

    async def main() -> list[dict[str, Any]]:
        await _migrated(runtime)
        async with runtime.database.read() as session:
            keys = [present_api_key(key) for key in (await list_api_keys(session))[0]]
        await runtime.close()
        return keys

    keys = run_async(main())
    if as_json:
        _echo_json(keys)
        return
    for key in keys:
        state = "revoked" if key["revoked_at"] else "live"
        typer.echo(
            f"{key['id']}  {key['name']!r}  {state}  scopes: {','.join(key['scopes'])}  "
            f"integrations: {','.join(key['integration_ids'] or ['all'])}  "
            f"expires: {key['expires_at'] or 'never'}  last used: {key['last_used_at'] or 'never'}"
        )


@api_keys_app.command("revoke")
def api_keys_revoke(
    key_id: Annotated[
        str,
        typer.Argument(
            metavar="KEY_ID", click_type=WORD, help="The key's id (see `api-keys list`)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the revoked key as JSON.")] = False,
) -> None:
    """Revoke a key: it stops working (within seconds in running processes)."""
    from propbridge.auth.service import present_api_key, revoke_api_key

    runtime = _runtime()

    async def main() -> dict[str, Any] | None:
        await _migrated(runtime)
        async with runtime.database.write() as session:
            key = await revoke_api_key(session, key_id)
        await runtime.close()
        return None if key is None else present_api_key(key)

    revoked = run_async(main())
    if revoked is None:
        _fail(f"no API key {key_id}", "see `propbridge api-keys list` for the ids", code=1)
    if as_json:
        _echo_json(revoked)
        return
    console.print(f"revoked {key_id}")


@api_keys_app.command("rotate")
def api_keys_rotate(
    key_id: Annotated[
        str,
        typer.Argument(
            metavar="KEY_ID", click_type=WORD, help="The key's id (see `api-keys list`)."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the new key, token included, as JSON.")
    ] = False,
) -> None:
    """A new token for a key (same name, scopes, integrations, limit, expiry); the old token is
    revoked. The new token is printed once, alone on the last line."""
    from propbridge.auth.service import present_api_key, rotate_api_key

    runtime = _runtime()

    async def main() -> tuple[dict[str, Any], str] | None:
        await _migrated(runtime)
        async with runtime.database.write() as session:
            rotated = await rotate_api_key(session, key_id)
        await runtime.close()
        return None if rotated is None else (present_api_key(rotated[0]), rotated[1])

    result = run_async(main())
    if result is None:
        _fail(f"no live API key {key_id}", "see `propbridge api-keys list` for the ids", code=1)
    key, token = result
    if as_json:
        _echo_json({**key, "token": token, "replaces": key_id})
        return
    typer.echo(f"new key id: {key['id']} (the old token no longer works)")
    typer.echo(token)


@app.command()
def sync(
    integration_id: Annotated[
        str,
        typer.Argument(metavar="INTEGRATION_ID", click_type=WORD, help="The integration's id."),
    ],
    models: Annotated[
        str | None,
        typer.Option("--models", metavar="MODEL,…", help="Comma-separated models to sync."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print {integration_id, job_id, state, error, counts} as JSON on stdout.",
        ),
    ] = False,
) -> None:
    """Sync one integration now, with a progress bar (runs here unless a worker took it first)."""
    from propbridge.handlers import job_handlers
    from propbridge.sync.cli_sync import SyncOutcome, run_sync_command

    runtime = _runtime()
    wanted = [m.strip() for m in models.split(",") if m.strip()] if models else None

    async def main() -> SyncOutcome:
        await _migrated(runtime, check_key=True)
        with progress_bar(
            TextColumn("{task.description}"), TextColumn("{task.completed} records")
        ) as progress:
            outcome = await run_sync_command(
                runtime, job_handlers(), integration_id, wanted, progress
            )
        await runtime.close()
        return outcome

    outcome = run_async(main())
    if outcome.code == 2:
        _fail(outcome.error or "the sync could not start")
    if as_json:
        _echo_json(outcome.as_dict())
    elif outcome.code:
        console.print(
            f"[red]sync did not complete:[/red] {escape(outcome.error or '')}", soft_wrap=True
        )
    else:
        for model, counts in outcome.counts.items():
            console.print(
                f"{model}: {counts['new']} new, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged"
            )
    raise typer.Exit(outcome.code)


@contextmanager
def progress_bar(*columns: ProgressColumn) -> Iterator[Progress]:
    """A progress bar on stderr with these columns between a bar and the elapsed time; log
    lines written meanwhile are printed above it, never through it."""
    with (
        Progress(
            SpinnerColumn(),
            *columns[:1],
            BarColumn(),
            *columns[1:],
            TimeElapsedColumn(),
            console=console,
        ) as progress,
        logs_through(progress.console),
    ):
        yield progress


def _seed_with_progress(store: SandboxStore, size: SeedSize, day: date) -> None:
    """Seed a sandbox store, a bar counting the properties done."""
    from propbridge.sandbox.resman.seed import seed_store

    with progress_bar(
        TextColumn("seeding the sandbox"), MofNCompleteColumn(), TextColumn("properties")
    ) as progress:
        task = progress.add_task("seeding", total=size.properties)
        counts = seed_store(store, size, day, lambda done: progress.update(task, completed=done))
    console.print(f"seeded: {json.dumps(counts)}", soft_wrap=True)


@sandbox_app.command("resman")
def sandbox_resman(
    host: Annotated[str, typer.Option("--host", metavar="ADDRESS")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="Port to listen on.")
    ] = 8100,
    properties: Annotated[int, typer.Option("--properties", metavar="N", min=1)] = 2,
    units: Annotated[
        int, typer.Option("--units", metavar="N", min=1, help="Units per property.")
    ] = 20,
    months: Annotated[
        int,
        typer.Option(
            "--months",
            metavar="N",
            min=1,
            help="Months of ledger (11 fit ResMan's 364-day window).",
        ),
    ] = 11,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            formats=["%Y-%m-%d"],
            help=(
                "The sandbox's day: its clock starts there (at the current time of day) and the "
                "seed is made for it (default: today, or PROPBRIDGE_NOW's day)."
            ),
        ),
    ] = None,
    partner_id: Annotated[str, typer.Option("--partner-id", metavar="ID")] = "1000",
    api_key: Annotated[str, typer.Option("--api-key", metavar="KEY")] = (
        "0123456789abcdef0123456789abcdef"
    ),
    account_id: Annotated[
        int,
        typer.Option("--account-id", metavar="ID", min=1, help="ResMan account ids are integers."),
    ] = 400,
    state: Annotated[
        Path | None, typer.Option("--state", metavar="FILE", help="SQLite file to keep state in.")
    ] = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve")] = False,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the generated data.")
    ] = 7,
    fault_latency_ms: Annotated[
        float,
        typer.Option("--fault-latency-ms", metavar="MS", min=0, help="Delay every ResMan call."),
    ] = 0,
    fault_429: Annotated[
        float,
        typer.Option("--fault-429", metavar="SHARE", min=0, max=1, help="Share answered 429."),
    ] = 0,
    fault_retry_after: Annotated[
        float,
        typer.Option("--fault-retry-after", metavar="SECONDS", min=0, help="Retry-After of a 429."),
    ] = 1,
    fault_500: Annotated[
        float,
        typer.Option("--fault-500", metavar="SHARE", min=0, max=1, help="Share answered 500."),
    ] = 0,
    fault_503: Annotated[
        float,
        typer.Option("--fault-503", metavar="SHARE", min=0, max=1, help="Share answered 503."),
    ] = 0,
    fault_timeout_before_store: Annotated[
        float,
        typer.Option(
            "--fault-timeout-before-store",
            metavar="SHARE",
            min=0,
            max=1,
            help="Share held past the timeout, not stored.",
        ),
    ] = 0,
    fault_timeout_after_store: Annotated[
        float,
        typer.Option(
            "--fault-timeout-after-store",
            metavar="SHARE",
            min=0,
            max=1,
            help="Share stored, then held past the timeout.",
        ),
    ] = 0,
    fault_drop_connection: Annotated[
        float,
        typer.Option(
            "--fault-drop-connection",
            metavar="SHARE",
            min=0,
            max=1,
            help="Share cut off mid-response.",
        ),
    ] = 0,
    fault_malformed_xml: Annotated[
        float,
        typer.Option(
            "--fault-malformed-xml",
            metavar="SHARE",
            min=0,
            max=1,
            help="Share answered with broken XML.",
        ),
    ] = 0,
    fault_status_error: Annotated[
        float,
        typer.Option(
            "--fault-status-error",
            metavar="SHARE",
            min=0,
            max=1,
            help="Share answered Status=Error.",
        ),
    ] = 0,
    fault_hostile_xml: Annotated[
        float,
        typer.Option(
            "--fault-hostile-xml",
            metavar="SHARE",
            min=0,
            max=1,
            help="Share answered with an XML bomb or external entity.",
        ),
    ] = 0,
    fault_hold_seconds: Annotated[
        float,
        typer.Option(
            "--fault-hold-seconds",
            metavar="SECONDS",
            min=0,
            help="How long a timeout fault holds the call.",
        ),
    ] = 35,
    fault_seed: Annotated[
        int | None, typer.Option("--fault-seed", metavar="N", help="Seed of the fault draws.")
    ] = None,
) -> None:
    """Run the ResMan sandbox, seeded deterministically (faults off unless asked for)."""
    import uvicorn

    from propbridge.doctor import check_port
    from propbridge.sandbox.resman.app import SandboxConfig, create_sandbox_app
    from propbridge.sandbox.resman.faults import FaultSettings
    from propbridge.sandbox.resman.seed import SeedSize
    from propbridge.sandbox.resman.store import SandboxStore

    try:
        faults = FaultSettings.from_dict(
            {
                "latency_ms": fault_latency_ms,
                "rate_429": fault_429,
                "retry_after_seconds": fault_retry_after,
                "rate_500": fault_500,
                "rate_503": fault_503,
                "timeout_before_store": fault_timeout_before_store,
                "timeout_after_store": fault_timeout_after_store,
                "drop_connection": fault_drop_connection,
                "malformed_xml": fault_malformed_xml,
                "status_error": fault_status_error,
                "hostile_xml": fault_hostile_xml,
                "hold_seconds": fault_hold_seconds,
                "seed": fault_seed,
            }
        )
    except ValueError as error:
        _fail(str(error), "see `propbridge sandbox resman --help` for the fault options")
    # Before seeding, which can take seconds: a busy port should not wait for it.
    _refuse(check_port(host, port))
    start = _settings().now
    clock = Clock.starting_at(start) if start else WALL_CLOCK
    if as_of is not None:
        # The seed's day is the sandbox's today (at the clock's time of day): a clock elsewhere
        # would date the seed in the future (or out of the 364-day window) of its own answers.
        now = clock.now()
        clock = Clock.starting_at(datetime.combine(as_of.date(), now.time(), now.tzinfo))
    store = SandboxStore(str(state) if state else ":memory:")
    if not store.is_seeded():
        day = as_of.date() if as_of else clock.today()
        _seed_with_progress(store, SeedSize(properties, units, months, seed), day)
    config = SandboxConfig(partner_id, api_key, str(account_id), auto_approve, faults, clock.now)
    console.print(
        f"ResMan sandbox on http://{host}:{port}  (Partner Transactions: "
        f"http://{host}:{port}/partner-transactions)",
        soft_wrap=True,
    )
    uvicorn.run(
        create_sandbox_app(store, config),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


@app.command()
def demo(
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="API port.")
    ] = 8000,
    sandbox_port: Annotated[
        int,
        typer.Option("--sandbox-port", metavar="PORT", min=1, max=65535, help="Sandbox port."),
    ] = 8100,
) -> None:
    """Sandbox + API + worker + scheduler in one process on SQLite, ready to post a charge."""
    from propbridge.demo import run_demo
    from propbridge.doctor import check_port

    _refuse(check_port("127.0.0.1", port))
    _refuse(check_port("127.0.0.1", sandbox_port, option="--sandbox-port"))
    settings = _settings()
    # The demo's own sandbox is on loopback: let outbound calls reach it.
    allowed = [part.strip() for part in settings.outbound_allowlist.split(",") if part.strip()]
    allowlist = ",".join([*allowed, *(["127.0.0.1"] if "127.0.0.1" not in allowed else [])])
    update: dict[str, object] = {"outbound_allowlist": allowlist}
    if settings.log_level == "INFO":
        update["log_level"] = "WARNING"
    runtime = _runtime(settings.model_copy(update=update))

    async def main() -> None:
        await _migrated(runtime, check_key=True)
        await run_demo(runtime, port, sandbox_port, console)

    run_async(main())


def main() -> None:
    """Console-script entry point."""
    app()
