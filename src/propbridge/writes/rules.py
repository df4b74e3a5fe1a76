"""The rules every write route applies, one function each: whether a write may go to an
integration (400 unknown, 403 outside the key's scope, 405 not something its PMS does), which
body a vendor's write takes, and when two writes are the same write (dedupe).

Pure: no queries; the service hands in what the repository found.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from propbridge.api.errors import ApiError, bad_request, issue
from propbridge.auth.service import Principal
from propbridge.connectors.registry import CONNECTORS
from propbridge.writes.schemas import (
    ResidentChargeBatchCreate,
    ResidentChargeCreate,
    ResidentPaymentCreate,
)

# The body each vendor's write of each operation takes (Propexo validates a generic body
# against the vendor's own rules, so the generic routes look the schema up here too).
WRITE_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("RESMAN", "resident_charge"): ResidentChargeCreate,
    ("RESMAN", "resident_payment"): ResidentPaymentCreate,
    ("RESMAN", "resident_charge_batch"): ResidentChargeBatchCreate,
}


def unknown_integration(integration_id: str) -> ApiError:
    """The 400 for an integration that does not exist or is deleted."""
    return bad_request(
        "integration_id does not name an integration",
        [issue(["integration_id"], f"Integration {integration_id!r} not found")],
    )


def require_known(integration_id: str, vendor: str | None) -> str:
    """400 unless the integration exists and is live (`vendor` is what the lookup found)."""
    if vendor is None:
        raise unknown_integration(integration_id)
    return vendor


def require_in_scope(principal: Principal, integration_id: str) -> None:
    """403 unless the key's allow-list admits the integration."""
    if not principal.may_use(integration_id):
        raise ApiError(403, "forbidden", "This API key may not write to this integration")


def write_body(vendor: str, operation: str) -> type[BaseModel]:
    """The schema of a vendor's write; 405 when the vendor's PMS cannot do it."""
    connector = CONNECTORS.get(vendor)
    schema = WRITE_BODIES.get((vendor, operation))
    if connector is None or operation not in connector.write_operations or schema is None:
        raise ApiError(
            405,
            "operation_not_supported",
            f"{vendor} does not support {operation.replace('_', ' ')}s",
        )
    return schema


def check_target(
    principal: Principal, integration_id: str, vendor: str | None, operation: str
) -> str:
    """All three, in the order a client fixes them: known, in scope, supported. The vendor."""
    known = require_known(integration_id, vendor)
    require_in_scope(principal, integration_id)
    write_body(known, operation)
    return known


# ---- Dedupe: what makes two writes the same write ---------------------------------------------


def body_digest(body: dict[str, Any]) -> str:
    """A digest of a body, independent of key order: the same key with another digest is a
    conflict, not a replay."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def dedupe_key(integration_id: str, operation: str, batch_id: str, reference_number: str) -> str:
    """A single charge's or payment's identity: its integration, operation, batch and reference."""
    return "\x1f".join((integration_id, operation, batch_id, reference_number))


def batch_dedupe_key(integration_id: str, operation: str, pairs: Iterable[tuple[str, str]]) -> str:
    """A batch's identity: its `(batch_id, reference_number)` pairs, in any order."""
    joined = "\x1f".join(sorted("\x1e".join(pair) for pair in pairs))
    digest = hashlib.sha256(joined.encode()).hexdigest()
    return "\x1f".join((integration_id, operation, digest))


def normalized_reference(reference: str) -> str:
    """A reference as claims and reconciliation compare it: outer whitespace dropped (new
    writes cannot carry any, an older write or a ledger row may), canonically composed (NFC)
    and case folded, so that `ABC`, `abc` and the two ways of writing `é` are one reference."""
    composed = unicodedata.normalize("NFC", reference.strip())
    return unicodedata.normalize("NFC", composed.casefold())


# What a reference is claimed under: the PMS account's key and the normalized reference.
Claim = tuple[str, str]


def claim_of(account_key: str, reference: str) -> Claim:
    """The claim a reference sent to an account makes."""
    return account_key, normalized_reference(reference)


def retry_dedupe_key(root_id: str, number: int) -> str:
    """The identity of the n-th retry of a chain: concurrent retries of one failure are one."""
    return f"retry:{root_id}:{number}"


@dataclass(frozen=True)
class AcceptedWrite:
    """The job that carries a write and the body it was accepted with."""

    job_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Clash:
    """A reference of a write (its item at `position`) that another write holds (`job_id`)."""

    position: int
    reference_number: str
    job_id: str


def replay_or_conflict(
    digest: str,
    job_id: str,
    seen_digest: str,
    seen_body: dict[str, Any],
    references: Sequence[tuple[int, str]],
    items_field: str | None,
) -> AcceptedWrite | ApiError:
    """A write whose dedupe key was taken before (by `job_id`): the first one again if the
    bodies match, else the 409 naming each of its `(position, reference_number)`."""
    if seen_digest == digest:
        return AcceptedWrite(job_id, seen_body)
    return reference_taken([Clash(pos, ref, job_id) for pos, ref in references], items_field)


def reference_taken(clashes: Sequence[Clash], items_field: str | None) -> ApiError:
    """The 409 for references other writes used first: `details.job_id` is the first holder,
    and an issue names each clashing field (`charges[i].reference_number` in a batch, whose
    items are under `items_field`) with the job that holds it."""
    issues = []
    for clash in clashes:
        path: list[str | int] = ["reference_number"]
        if items_field is not None:
            path = [items_field, clash.position, "reference_number"]
        found = issue(
            path,
            f"{clash.reference_number!r} is held by job {clash.job_id}: a reference names one "
            "transaction of the PMS account, whatever route, batch or integration sent it",
        )
        issues.append({**found, "job_id": clash.job_id})
    return ApiError(
        409,
        "duplicate_reference",
        "These reference numbers were already used in this PMS account by another write"
        if len(clashes) > 1
        else "This reference number was already used in this PMS account by another write",
        {"job_id": clashes[0].job_id, "issues": issues},
    )
