"""`propbridge demo`: a seeded ResMan sandbox, the API, a worker and the scheduler in one process.

Creates a key and an integration, syncs it, posts one example charge through the API, and
prints shell `export` lines and the commands that follow them.

The sandbox's state is a SQLite file beside propbridge's own (`<data dir>/sandbox-resman.db`),
so a second run starts where the first stopped: the same residents, the charges posted and
approved before, and the integration that was synced from them. The sandbox file names the
integration synced from it; a demo integration of another sandbox state (an older demo, or a
sandbox file deleted on its own) is archived, since its records describe a PMS that is gone.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import select

from propbridge.auth.service import SCOPES, issue_api_key
from propbridge.billing.models import ChargeCode
from propbridge.config import make_private_directory
from propbridge.db.ids import new_id
from propbridge.db.migrate import upgrade_database
from propbridge.integrations.models import Integration
from propbridge.integrations.schemas import IntegrationCreate, IntegrationUpdate
from propbridge.integrations.service import (
    Guards,
    create_integration,
    delete_integration,
    request_sync,
    update_integration,
)
from propbridge.jobs.models import ACTIVE_STATES, Job
from propbridge.residents.models import Resident
from propbridge.runtime import Runtime
from propbridge.sandbox.resman.app import SandboxConfig, create_sandbox_app
from propbridge.sandbox.resman.seed import SeedSize, seed_store
from propbridge.sandbox.resman.store import SandboxStore
from propbridge.serving import HttpApp, install_stop_signals, run_stack

DEMO_INTEGRATION = "ResMan sandbox (demo)"
SANDBOX_STATE = "sandbox-resman.db"
# The sandbox's own settings table names the propbridge integration synced from it.
PAIRED_INTEGRATION = "propbridge_demo_integration_id"


@dataclass(frozen=True)
class DemoIntegration:
    """The integration the demo uses, and what became of the ones it does not."""

    id: str
    reused: bool
    archived: list[str]


def open_sandbox(data_dir: Path, runtime: Runtime) -> tuple[SandboxStore, Path, bool]:
    """The sandbox state kept in the data directory (seeded when new); True when kept from
    an earlier run."""
    make_private_directory(data_dir)
    path = data_dir / SANDBOX_STATE
    store = SandboxStore(str(path))
    kept = store.is_seeded()
    if not kept:
        seed_store(store, SeedSize(), runtime.clock.today())
    return store, path, kept


async def _integration(
    runtime: Runtime, sandbox_url: str, config: SandboxConfig, store: SandboxStore
) -> DemoIntegration:
    credentials = {
        "integrationPartnerId": config.partner_id,
        "accountId": config.account_id,
        "apiKey": config.api_key,
    }
    paired = store.get_meta(PAIRED_INTEGRATION)
    archived: list[str] = []
    async with runtime.database.write() as session:
        demos = (
            (
                await session.execute(
                    select(Integration)
                    .where(Integration.name == DEMO_INTEGRATION, Integration.deleted_at.is_(None))
                    .order_by(Integration.created_at)
                )
            )
            .scalars()
            .all()
        )
        existing = None
        for demo in demos:
            if demo.id == paired:
                existing = demo
            else:
                await delete_integration(session, demo)
                archived.append(demo.id)
        if existing is not None:
            # The sandbox listens on this run's port; credentials go with a new base_url.
            await update_integration(
                session,
                runtime.cipher,
                existing,
                IntegrationUpdate.model_validate(
                    {"base_url": sandbox_url, "credentials": credentials, "active": True}
                ),
                None,
                Guards.of(runtime),
            )
            return DemoIntegration(existing.id, True, archived)
        created = await create_integration(
            session,
            runtime.cipher,
            IntegrationCreate.model_validate(
                {
                    "integration_vendor": "RESMAN",
                    "name": DEMO_INTEGRATION,
                    "base_url": sandbox_url,
                    "credentials": credentials,
                    "active": True,
                }
            ),
            Guards.of(runtime),
        )
        created_id = created.id
    store.set_meta(PAIRED_INTEGRATION, created_id)
    return DemoIntegration(created_id, False, archived)


async def _sync(runtime: Runtime, integration_id: str, console: Console) -> None:
    async with runtime.database.write() as session:
        integration = await session.get(Integration, integration_id)
        assert integration is not None
        first = integration.last_completed_sync is None
        job_id = (await request_sync(session, integration, None)).id
    runtime.notify_job_enqueued()
    what = "first sync" if first else "sync"
    with console.status(f"running the {what}…"):
        while True:
            async with runtime.database.read() as session:
                job = await session.get(Job, job_id)
            if job is None or job.state not in ACTIVE_STATES:
                break
            await asyncio.sleep(0.2)
    if job is None or job.state != "succeeded":
        console.print(f"[red]{what} failed:[/red] {job.last_error if job else '?'}")
    else:
        console.print(
            f"{what} done: {json.dumps((job.result or {}).get('counts'))}", soft_wrap=True
        )


def fresh_reference() -> str:
    """A reference number no earlier run used: the random tail of a new id (its head is the
    time, shared by runs in the same minute)."""
    return "DEMO-" + new_id().replace("-", "")[-12:].upper()


async def _example_charge(runtime: Runtime, integration_id: str) -> dict[str, object] | None:
    async with runtime.database.read() as session:
        resident = (
            (
                await session.execute(
                    select(Resident)
                    .where(
                        Resident.integration_id == integration_id, Resident.x_lease_id.is_not(None)
                    )
                    .order_by(Resident.x_property_id, Resident.last_name)
                )
            )
            .scalars()
            .first()
        )
        if resident is None:
            return None
        code = (
            (
                await session.execute(
                    select(ChargeCode).where(
                        ChargeCode.property_id == resident.property_id, ChargeCode.code == "PETF"
                    )
                )
            )
            .scalars()
            .first()
        )
    if code is None:
        return None
    return {
        "integration_id": integration_id,
        "resident_id": resident.id,
        "charge_code_id": code.id,
        "batch_id": "demo-batch-1",
        "transaction_date": f"{runtime.clock.today().isoformat()}T00:00:00Z",
        "description": "Pet fee",
        "notes": "posted from the propbridge demo",
        "amount_in_cents": 7500,
        "reference_number": fresh_reference(),
    }


async def _post_charge(base_url: str, token: str, charge: dict[str, object]) -> str:
    """Post a charge as a client would (with a fresh Idempotency-Key); its job id, or why not."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"demo-{new_id()}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.post("/v1/resident-charges/resman/", json=charge, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
    return str(response.json()["meta"]["job_id"])


def export_lines(
    token: str, integration_id: str, job_id: str | None, allowlist: str = ""
) -> list[str]:
    """Shell lines that set the variables the README's next commands use; the outbound
    allow-list too, so that `propbridge sync` and `doctor` run in the same shell can reach the
    demo's sandbox on loopback."""
    values = {
        "PROPBRIDGE_TOKEN": token,
        "INTEGRATION_ID": integration_id,
        "JOB_ID": job_id,
        "PROPBRIDGE_OUTBOUND_ALLOWLIST": allowlist or None,
    }
    return [f"export {name}={shlex.quote(v)}" for name, v in values.items() if v is not None]


async def run_demo(runtime: Runtime, port: int, sandbox_port: int, console: Console) -> None:
    """Start everything, prepare it, print the instructions, and serve until Ctrl-C."""
    await upgrade_database(runtime.database, runtime.cipher)
    store, state_path, kept = open_sandbox(runtime.settings.data_dir, runtime)
    config = SandboxConfig(clock=runtime.clock.now)
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    base_url = f"http://127.0.0.1:{port}"
    stop, started = asyncio.Event(), asyncio.Event()
    install_stop_signals(stop)
    stack = asyncio.create_task(
        run_stack(
            runtime,
            stop,
            api=("127.0.0.1", port),
            worker=True,
            scheduler=True,
            started=started,
            extra_apps=[HttpApp(create_sandbox_app(store, config), "127.0.0.1", sandbox_port)],
        )
    )
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait([stack, waiter], return_when=asyncio.FIRST_COMPLETED)
    if stack.done():
        stack.result()
        return
    if kept:
        console.print(f"sandbox state: kept from the last run, in {state_path}", soft_wrap=True)
    else:
        console.print(
            f"sandbox state: new, seeded in {state_path} (kept for the next run)", soft_wrap=True
        )
    async with runtime.database.write() as session:
        _key, token = await issue_api_key(session, "demo", list(SCOPES), None)
    integration = await _integration(runtime, sandbox_url, config, store)
    for gone in integration.archived:
        console.print(
            f"archived the demo integration {gone}: it was synced from another sandbox state"
        )
    await _sync(runtime, integration.id, console)
    charge = await _example_charge(runtime, integration.id)
    job_id: str | None = None
    if charge is not None:
        try:
            job_id = await _post_charge(base_url, token, charge)
        except (httpx.HTTPError, RuntimeError) as error:
            console.print(f"[red]the example charge was not posted:[/red] {error}")
        else:
            console.print(f"posted charge {charge['reference_number']} (job {job_id})")
    console.print(
        f"\n[bold]propbridge[/bold] API:          {base_url}   (docs: {base_url}/docs)",
        soft_wrap=True,
    )
    console.print(f"API token:              {token}")
    console.print(f"integration id:         {integration.id}")
    console.print(f"ResMan sandbox:         {sandbox_url}")
    console.print(f"Partner Transactions:   {sandbox_url}/partner-transactions")
    console.print(
        f"Operator console:       {base_url}/console   (sign in with the key: {token})\n",
        soft_wrap=True,
    )
    console.print("Paste these into your shell:")
    allowlist = runtime.settings.outbound_allowlist
    for line in export_lines(token, integration.id, job_id, allowlist):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    if job_id is not None:
        console.print("\nThe charge's write status (approve or reject it on the page above):")
        console.print(
            f'curl -s -H "Authorization: Bearer $PROPBRIDGE_TOKEN" '
            f"{base_url}/v1/admin/write-status/$JOB_ID",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    if charge is not None:
        another = {**charge, "reference_number": fresh_reference()}
        console.print("\nPost another charge (its answer's meta.job_id is the new write's job):")
        console.print(
            f"curl -s -X POST {base_url}/v1/resident-charges/resman/ "
            f"-H {shlex.quote('Authorization: Bearer ' + token)} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(another))}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    console.print("\nCtrl-C stops everything.")
    await stack
