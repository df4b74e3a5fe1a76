"""`propbridge demo`: a seeded ResMan sandbox, the API, a worker and the scheduler in one process.

Creates a key and an integration, runs the first sync, and prints how to post a charge.
"""

from __future__ import annotations

import asyncio
import json
import shlex

from rich.console import Console
from sqlalchemy import select

from propbridge.auth.service import SCOPES, issue_api_key
from propbridge.billing.models import ChargeCode
from propbridge.db.migrate import upgrade_database
from propbridge.integrations.models import Integration
from propbridge.integrations.schemas import IntegrationCreate, IntegrationUpdate
from propbridge.integrations.service import (
    Guards,
    create_integration,
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


async def _integration(runtime: Runtime, sandbox_url: str, config: SandboxConfig) -> str:
    credentials = {
        "integrationPartnerId": config.partner_id,
        "accountId": config.account_id,
        "apiKey": config.api_key,
    }
    async with runtime.database.write() as session:
        existing = (
            (
                await session.execute(
                    select(Integration).where(
                        Integration.name == DEMO_INTEGRATION, Integration.deleted_at.is_(None)
                    )
                )
            )
            .scalars()
            .first()
        )
        if existing is not None:
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
            return existing.id
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
        return created.id


async def _first_sync(runtime: Runtime, integration_id: str, console: Console) -> None:
    async with runtime.database.write() as session:
        integration = await session.get(Integration, integration_id)
        assert integration is not None
        job_id = (await request_sync(session, integration, None)).id
    runtime.notify_job_enqueued()
    with console.status("running the first sync…"):
        while True:
            async with runtime.database.read() as session:
                job = await session.get(Job, job_id)
            if job is None or job.state not in ACTIVE_STATES:
                break
            await asyncio.sleep(0.2)
    if job is None or job.state != "succeeded":
        console.print(f"[red]first sync failed:[/red] {job.last_error if job else '?'}")
    else:
        console.print(f"first sync done: {json.dumps((job.result or {}).get('counts'))}")


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
        "reference_number": "DEMO-0001",
    }


async def run_demo(runtime: Runtime, port: int, sandbox_port: int, console: Console) -> None:
    """Start everything, prepare it, print the instructions, and serve until Ctrl-C."""
    await upgrade_database(runtime.database)
    store = SandboxStore()
    seed_store(store, SeedSize(), runtime.clock.today())
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
    async with runtime.database.write() as session:
        _key, token = await issue_api_key(session, "demo", list(SCOPES), None)
    integration_id = await _integration(runtime, sandbox_url, config)
    await _first_sync(runtime, integration_id, console)
    charge = await _example_charge(runtime, integration_id)
    console.print(f"\n[bold]propbridge[/bold] API:          {base_url}   (docs: {base_url}/docs)")
    console.print(f"API token:              {token}")
    console.print(f"integration id:         {integration_id}")
    console.print(f"ResMan sandbox:         {sandbox_url}")
    console.print(f"Partner Transactions:   {sandbox_url}/partner-transactions\n")
    if charge is not None:
        console.print("Post a charge:")
        console.print(
            f"curl -s -X POST {base_url}/v1/resident-charges/resman/ "
            f"-H {shlex.quote('Authorization: Bearer ' + token)} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(charge))}",
            soft_wrap=True,
            highlight=False,
        )
        console.print(
            "\nThen: curl -s -H 'Authorization: Bearer …' "
            f"{base_url}/v1/admin/write-status/<job_id>  and approve it on the page above."
        )
    console.print("\nCtrl-C stops everything.")
    await stack
