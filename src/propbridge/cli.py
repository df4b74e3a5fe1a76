"""The `propbridge` command: serve, worker, migrate, demo, sync, api-keys, sandbox, keygen.

Argument parsing and process start-up only; the work is done by the packages it calls.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvloop
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from propbridge.clock import WALL_CLOCK, Clock, set_clock
from propbridge.config import Settings, get_settings
from propbridge.db.base import isoformat_z
from propbridge.db.migrate import upgrade_database
from propbridge.integrations.credentials import ConfigurationError, generate_key_text
from propbridge.logging_setup import configure_logging
from propbridge.runtime import Runtime

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


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop (faster wake-ups between the loop and driver threads)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    try:
        runtime = Runtime.from_settings(settings)
    except ConfigurationError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    set_clock(runtime.clock)  # the command's event loop copies this context
    return runtime


async def _migrated(runtime: Runtime) -> Runtime:
    from propbridge.webhooks.sealing import seal_plain_headers

    await upgrade_database(runtime.database)
    async with runtime.database.write() as session:
        await seal_plain_headers(session, runtime.cipher)
    return runtime


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    runtime = _runtime()

    async def main() -> None:
        await _migrated(runtime)
        await runtime.close()

    run_async(main())
    console.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only: run workers elsewhere.")
    ] = False,
    processes: Annotated[
        int,
        typer.Option(
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
    from propbridge.serving import (
        install_stop_signals,
        run_stack,
        start_api_processes,
        stop_processes,
    )

    runtime = _runtime()
    bind = (host or runtime.settings.host, port or runtime.settings.port)

    async def main() -> None:
        await _migrated(runtime)
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
        await _migrated(runtime)
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
        typer.Option(help="The new key (base64, 32 bytes); a random one when omitted."),
    ] = None,
) -> None:
    """Re-encrypt every stored secret under a new encryption key, in one transaction.

    Embedded mode (key file): the file is replaced. With PROPBRIDGE_ENCRYPTION_KEY: the new key
    is printed, alone on the last line; set it before the next start (the old one no longer
    opens anything).
    """
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
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    key_file = (
        None if runtime.settings.encryption_key else runtime.settings.data_dir / "encryption.key"
    )
    staged = key_file.with_suffix(".key.new") if key_file else None
    if staged is not None:
        # Written first: if the process dies after the commit, the new key is still on disk.
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)

    async def main() -> dict[str, int]:
        await _migrated(runtime)
        try:
            async with runtime.database.write() as session:
                return await reencrypt_all(session, runtime.cipher, new_cipher)
        finally:
            await runtime.close()

    try:
        counts = run_async(main())
    except ConfigurationError as error:
        if staged is not None:
            staged.unlink(missing_ok=True)
        console.print(f"[red]error:[/red] {error}; nothing was changed")
        raise typer.Exit(1) from error
    console.print("re-encrypted: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    if key_file is not None and staged is not None:
        staged.replace(key_file)
        console.print(f"new key written to {key_file}")
    else:
        console.print("set PROPBRIDGE_ENCRYPTION_KEY to the new key below before the next start")
        typer.echo(text)


@api_keys_app.command("create")
def api_keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="read, write or admin; repeat for several (default: all three)."),
    ] = None,
    integration: Annotated[
        list[str] | None,
        typer.Option(help="Limit the key to this integration id; repeat for several."),
    ] = None,
    rate_limit: Annotated[
        int | None,
        typer.Option(min=1, help="Requests per minute for this key (Propexo's default is 150)."),
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="The key stops working after N days.")
    ] = None,
) -> None:
    """Create an API key. The token is printed once, alone on the last line."""
    from propbridge.auth.service import SCOPES, issue_api_key

    scopes = scope or list(SCOPES)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not name.strip():
        console.print(
            f"[red]error:[/red] unknown scope(s): {', '.join(unknown)}"
            if unknown
            else "[red]error:[/red] --name must not be empty"
        )
        raise typer.Exit(2)
    runtime = _runtime()

    async def main() -> str:
        await _migrated(runtime)
        async with runtime.database.write() as session:
            key, token = await issue_api_key(
                session, name.strip(), scopes, integration, rate_limit, expires_in_days
            )
            typer.echo(
                f"key id: {key.id}  scopes: {', '.join(key.scopes)}  integrations: "
                f"{', '.join(integration) if integration else 'all'}  rate limit: "
                f"{f'{rate_limit}/min' if rate_limit else 'deployment default'}  expires: "
                f"{isoformat_z(key.expires_at) or 'never'}"
            )
        await runtime.close()
        return token

    typer.echo(run_async(main()))


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
        typer.echo(json.dumps(keys))
        return
    for key in keys:
        state = "revoked" if key["revoked_at"] else "live"
        typer.echo(
            f"{key['id']}  {key['name']!r}  {state}  scopes: {','.join(key['scopes'])}  "
            f"integrations: {','.join(key['integration_ids'] or ['all'])}  "
            f"expires: {key['expires_at'] or 'never'}  last used: {key['last_used_at'] or 'never'}"
        )


@api_keys_app.command("revoke")
def api_keys_revoke(key_id: str) -> None:
    """Revoke a key: it stops working (within seconds in running processes)."""
    from propbridge.auth.service import revoke_api_key

    runtime = _runtime()

    async def main() -> bool:
        await _migrated(runtime)
        async with runtime.database.write() as session:
            found = await revoke_api_key(session, key_id) is not None
        await runtime.close()
        return found

    if not run_async(main()):
        console.print(f"[red]error:[/red] no API key {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@api_keys_app.command("rotate")
def api_keys_rotate(key_id: str) -> None:
    """A new token for a key (same name, scopes, integrations, limit, expiry); the old token is
    revoked. The new token is printed once, alone on the last line."""
    from propbridge.auth.service import rotate_api_key

    runtime = _runtime()

    async def main() -> tuple[str, str] | None:
        await _migrated(runtime)
        async with runtime.database.write() as session:
            rotated = await rotate_api_key(session, key_id)
            result = None if rotated is None else (rotated[0].id, rotated[1])
        await runtime.close()
        return result

    result = run_async(main())
    if result is None:
        console.print(f"[red]error:[/red] no live API key {key_id}")
        raise typer.Exit(1)
    typer.echo(f"new key id: {result[0]} (the old token no longer works)")
    typer.echo(result[1])


@app.command()
def sync(
    integration_id: str,
    models: Annotated[str | None, typer.Option(help="Comma-separated models to sync.")] = None,
) -> None:
    """Sync one integration now, with a progress bar (runs here unless a worker took it first)."""
    from propbridge.handlers import job_handlers
    from propbridge.sync.cli_sync import run_sync_command

    runtime = _runtime()
    wanted = [m.strip() for m in models.split(",") if m.strip()] if models else None

    async def main() -> int:
        await _migrated(runtime)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed} records"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            code = await run_sync_command(runtime, job_handlers(), integration_id, wanted, progress)
        await runtime.close()
        return code

    raise typer.Exit(run_async(main()))


@sandbox_app.command("resman")
def sandbox_resman(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8100,
    properties: Annotated[int, typer.Option(min=1)] = 2,
    units: Annotated[int, typer.Option(min=1)] = 20,
    months: Annotated[
        int, typer.Option(min=1, help="Months of ledger (11 fit ResMan's 364-day window).")
    ] = 11,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help=(
                "The sandbox's day: its clock starts there (at the current time of day) and the "
                "seed is made for it (default: today, or PROPBRIDGE_NOW's day)."
            ),
        ),
    ] = None,
    partner_id: Annotated[str, typer.Option()] = "1000",
    api_key: Annotated[str, typer.Option()] = "0123456789abcdef0123456789abcdef",
    account_id: Annotated[int, typer.Option(min=1, help="ResMan account ids are integers.")] = 400,
    state: Annotated[Path | None, typer.Option(help="SQLite file to keep state in.")] = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 7,
    fault_latency_ms: Annotated[float, typer.Option(min=0, help="Delay every ResMan call.")] = 0,
    fault_429: Annotated[float, typer.Option(min=0, max=1, help="Share answered 429.")] = 0,
    fault_retry_after: Annotated[float, typer.Option(min=0, help="Retry-After of a 429.")] = 1,
    fault_500: Annotated[float, typer.Option(min=0, max=1, help="Share answered 500.")] = 0,
    fault_503: Annotated[float, typer.Option(min=0, max=1, help="Share answered 503.")] = 0,
    fault_timeout_before_store: Annotated[
        float, typer.Option(min=0, max=1, help="Share held past the timeout, not stored.")
    ] = 0,
    fault_timeout_after_store: Annotated[
        float, typer.Option(min=0, max=1, help="Share stored, then held past the timeout.")
    ] = 0,
    fault_drop_connection: Annotated[
        float, typer.Option(min=0, max=1, help="Share cut off mid-response.")
    ] = 0,
    fault_malformed_xml: Annotated[
        float, typer.Option(min=0, max=1, help="Share answered with broken XML.")
    ] = 0,
    fault_status_error: Annotated[
        float, typer.Option(min=0, max=1, help="Share answered Status=Error.")
    ] = 0,
    fault_hostile_xml: Annotated[
        float,
        typer.Option(min=0, max=1, help="Share answered with an XML bomb or external entity."),
    ] = 0,
    fault_hold_seconds: Annotated[
        float, typer.Option(min=0, help="How long a timeout fault holds the call.")
    ] = 35,
    fault_seed: Annotated[int | None, typer.Option(help="Seed of the fault draws.")] = None,
) -> None:
    """Run the ResMan sandbox, seeded deterministically (faults off unless asked for)."""
    import uvicorn

    from propbridge.sandbox.resman.app import SandboxConfig, create_sandbox_app
    from propbridge.sandbox.resman.faults import FaultSettings
    from propbridge.sandbox.resman.seed import SeedSize, seed_store
    from propbridge.sandbox.resman.store import SandboxStore

    start = get_settings().now
    clock = Clock.starting_at(start) if start else WALL_CLOCK
    if as_of is not None:
        # The seed's day is the sandbox's today (at the clock's time of day): a clock elsewhere
        # would date the seed in the future (or out of the 364-day window) of its own answers.
        now = clock.now()
        clock = Clock.starting_at(datetime.combine(as_of.date(), now.time(), now.tzinfo))
    store = SandboxStore(str(state) if state else ":memory:")
    if not store.is_seeded():
        day = as_of.date() if as_of else clock.today()
        counts = seed_store(store, SeedSize(properties, units, months, seed), day)
        console.print(f"seeded: {json.dumps(counts)}")
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
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    config = SandboxConfig(partner_id, api_key, str(account_id), auto_approve, faults, clock.now)
    console.print(
        f"ResMan sandbox on http://{host}:{port}  (Partner Transactions: "
        f"http://{host}:{port}/partner-transactions)"
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
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    sandbox_port: Annotated[int, typer.Option(help="Sandbox port.")] = 8100,
) -> None:
    """Sandbox + API + worker + scheduler in one process on SQLite, ready to post a charge."""
    from propbridge.demo import run_demo

    settings = get_settings()
    # The demo's own sandbox is on loopback: let outbound calls reach it.
    allowlist = ",".join(filter(None, (settings.outbound_allowlist, "127.0.0.1")))
    update: dict[str, object] = {"outbound_allowlist": allowlist}
    if settings.log_level == "INFO":
        update["log_level"] = "WARNING"
    runtime = _runtime(settings.model_copy(update=update))
    run_async(run_demo(runtime, port, sandbox_port, console))


def main() -> None:
    """Console-script entry point."""
    app()
