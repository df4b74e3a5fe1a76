"""A client generated from our `/openapi.json` by a third-party generator (openapi-python-client)
drives a real server through the seed path: an integration, a sync, residents and charge codes,
a charge posted, its write status, and (after the manager approves it and a sync) the charge in
the resident's ledger. Every call goes through the generated code and its typed models.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from propbridge.sandbox.resman.seed import SeedSize
from tests.conftest import stack_of_its_own
from tests.support import LiveStack, wait_for

PACKAGE = "propbridge_generated_client"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    yield from stack_of_its_own("sqlite", tmp_path_factory, SeedSize(1, 3, 1))


@pytest.fixture(scope="module")
def generated(live: LiveStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("client")
    document = root / "openapi.json"
    document.write_bytes(live.http.get("/openapi.json").content)
    bin_dir = Path(sys.executable).parent
    generator = shutil.which("openapi-python-client", path=str(bin_dir))
    assert generator is not None, "openapi-python-client is not installed (requirements.lock)"
    output = str(root / PACKAGE)
    done = subprocess.run(
        [generator, "generate", "--path", str(document), "--output-path", output, "--meta", "none"],
        capture_output=True,
        text=True,
        timeout=120,
        # The generator formats its output with ruff, found on the PATH.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Nothing of the document was skipped: every schema and response became code.
    assert "Warning" not in done.stdout, done.stdout
    sys.path.insert(0, str(root))
    yield root / PACKAGE
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
        del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_generated_client_runs_the_seed_path(live: LiveStack, generated: Path) -> None:
    client_module = module("client")
    models = module("models")
    api = "api.admin"
    client: Any = client_module.AuthenticatedClient(
        base_url=live.base_url, token=live.admin_token, raise_on_unexpected_status=True
    )
    credentials = models.ResManCredentials.from_dict(live.credentials())
    created = module(f"{api}.create_integration").sync(
        client=client,
        body=models.IntegrationCreate(
            integration_vendor=models.IntegrationCreateIntegrationVendor.RESMAN,
            name="generated client",
            base_url=live.sandbox_url,
            credentials=credentials,
        ),
    )
    assert isinstance(created, models.IntegrationResult), created
    integration_id = created.result.id
    queued = module(f"{api}.manual_sync").sync(client=client, integration_id=integration_id)
    assert isinstance(queued, models.ManualSyncResult), queued
    live.wait_job(queued.result.job_id)

    residents = module("api.residents.list_residents").sync(
        client=client, integration_id=integration_id, limit=5
    )
    assert isinstance(residents, models.ResidentList) and residents.results, residents
    resident = residents.results[0]
    codes = module("api.billing_and_payments.list_charge_codes").sync(
        client=client, integration_id=integration_id, category_type="Charge"
    )
    assert isinstance(codes, models.ChargeCodeList) and codes.results, codes
    reference = f"gen-{uuid.uuid4().hex[:12]}"
    accepted = module("api.billing_and_payments.create_resident_charge_resman").sync(
        client=client,
        body=models.ResidentChargeCreate(
            integration_id=integration_id,
            resident_id=resident.id,
            charge_code_id=codes.results[0].id,
            batch_id="generated",
            transaction_date="2026-11-20T09:00:00Z",
            description="posted by a generated client",
            notes="openapi-python-client",
            amount_in_cents=4321,
            reference_number=reference,
        ),
    )
    assert isinstance(accepted, models.ChargeAccepted), accepted
    assert accepted.result.reference_number == reference
    job_id = accepted.meta.job_id
    write_status = module("api.billing_and_payments.write_status")

    def settled() -> Any:
        status = write_status.sync(client=client, root_job_id=job_id)
        return status if str(status.write_status) != "PENDING" else None

    status = wait_for(settled)
    assert isinstance(status, models.WriteStatus) and str(status.write_status) == "SUCCESS"

    # The property manager approves it in ResMan; the next sync finds it in the ledger.
    [item] = [
        i
        for i in live.sandbox.get("/_sandbox/partner-transactions").json()["results"]
        if i["reference"] == reference
    ]
    assert live.sandbox.post(f"/_sandbox/partner-transactions/{item['id']}/approve").is_success
    queued = module(f"{api}.manual_sync").sync(client=client, integration_id=integration_id)
    live.wait_job(queued.result.job_id)
    # ResMan bills a lease, not a roommate: the charge lands on the resident's lease.
    lease_id = resident.leases_meta_data[0].lease_id
    charges = module("api.billing_and_payments.list_resident_charges").sync(
        client=client, integration_id=integration_id, lease_id=lease_id, limit=250
    )
    assert isinstance(charges, models.ResidentChargeList), charges
    found = [c for c in charges.results if c.reference_number == reference]
    assert len(found) == 1, [(c.reference_number, c.description) for c in charges.results][:20]
    [charge] = found
    assert charge.amount_in_cents == 4321
    status = write_status.sync(client=client, root_job_id=job_id)
    assert status.created_record_id == charge.id

    # Errors come back typed too.
    missing = module("api.billing_and_payments.get_resident_charge").sync(
        client=client, resident_charge_id="no-such-charge"
    )
    assert isinstance(missing, models.ErrorResponse) and missing.error.code == "not_found"
