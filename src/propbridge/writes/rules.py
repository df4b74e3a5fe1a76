"""The rules every write route applies, one function each: whether a write may go to an
integration (400 unknown, 403 outside the key's scope, 405 not something its PMS does), which
body a vendor's write takes, and when two writes are the same write (dedupe).

Pure: no queries; the service hands in what the repository found.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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


def require_known(integration_id: str, vendor: str | None) -> str:
    """400 unless the integration exists and is live (`vendor` is what the lookup found)."""
    if vendor is None:
        raise bad_request(
            "integration_id does not name an integration",
            [issue(["integration_id"], f"Integration {integration_id!r} not found")],
        )
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


def reference_key(integration_id: str, batch_id: str, reference_number: str) -> str:
    """What one transaction is known by, whatever route sent it: its integration, batch and
    reference (the migration that claimed existing writes' references builds the same)."""
    return "\x1f".join((integration_id, batch_id, reference_number))


def retry_dedupe_key(root_id: str, number: int) -> str:
    """The identity of the n-th retry of a chain: concurrent retries of one failure are one."""
    return f"retry:{root_id}:{number}"


@dataclass(frozen=True)
class AcceptedWrite:
    """The job that carries a write and the body it was accepted with."""

    job_id: str
    body: dict[str, Any]


def replay_or_conflict(
    digest: str, job_id: str, seen_digest: str, seen_body: dict[str, Any]
) -> AcceptedWrite | ApiError:
    """A write whose key was taken before: the first one again if the bodies match, else 409."""
    if seen_digest == digest:
        return AcceptedWrite(job_id, seen_body)
    return reference_taken(job_id)


def reference_taken(job_id: str) -> ApiError:
    """The 409 for a batch_id and reference_number another write used first (`job_id`)."""
    return ApiError(
        409,
        "duplicate_reference",
        "These batch_id and reference_number values were already used with a different body",
        {"job_id": job_id},
    )
