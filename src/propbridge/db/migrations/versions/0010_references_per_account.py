"""references claimed per PMS account; write items' states with their times; 64-bit money and
schedule intervals

A reference names one transaction of a PMS account's ledger (ResMan: its base URL and AccountID),
whatever the batch or integration that sent it. Each integration gets the key of its account
(`connectors.registry.account_key`, from its credentials: the upgrade decrypts them, so it needs
the deployment's key), and the claims are made again under (account, normalized reference)
(`writes.rules.normalized_reference`: NFC, case folded), each write recording the account it
claimed in. Where older writes already share one, the chain (a write and its retries) ResMan is
known to hold it from keeps it (else one that may have reached ResMan, else one never sent, else
the first refused); every item of the others is marked `held_by_job_id` (never sent, never
reconciled) and `propbridge doctor` lists it. Nothing is merged.

Items get `accepted_at` (when the write finished, for what ResMan took), `posted_at` (when the
ledger row was first stored) and `unconfirmed_at`. Amounts and intervals become 64-bit; a
schedule longer than the new maximum of a year is shortened to it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

import propbridge.db.base
from propbridge.connectors.registry import account_key
from propbridge.integrations.credentials import ConfigurationError
from propbridge.integrations.schemas import CADENCE_SECONDS
from propbridge.jobs.scheduler import MAX_INTERVAL_SECONDS
from propbridge.writes.rules import normalized_reference

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000


def _account_keys(connection: sa.Connection) -> dict[str, str]:
    rows = connection.execute(
        sa.text("SELECT id, vendor, base_url, credentials_ciphertext FROM integrations")
    ).all()
    if not rows:
        return {}
    cipher = context.config.attributes.get("cipher")
    if cipher is None:
        raise ConfigurationError(
            "this upgrade reads each integration's credentials (to learn its PMS account) and "
            "was given no encryption key: run `propbridge migrate` with PROPBRIDGE_ENCRYPTION_KEY "
            "(or the key file) of this deployment"
        )
    keys = {}
    for integration_id, vendor, base_url, ciphertext in rows:
        try:
            credentials = cipher.decrypt(integration_id, bytes(ciphertext))
        except Exception as error:
            raise ConfigurationError(
                f"the credentials of integration {integration_id} do not decrypt with this "
                "deployment's key: run the upgrade with the key they were stored under"
            ) from error
        keys[integration_id] = account_key(vendor, base_url, credentials)
    return keys


# What an item says of whether ResMan holds its reference: taken (and maybe found) first, then
# sent with no answer, then never sent, then refused.
RANK = {"POSTED": 0, "ACCEPTED": 0, "OUTCOME_UNKNOWN": 1, "PENDING": 2}
REFUSED = 3


def _claim_references(connection: sa.Connection, accounts: dict[str, str]) -> None:
    """Each (account, normalized reference) claimed by one chain (a first write and its
    retries): the one ResMan is known to hold it from, else the one that may have reached it,
    else one never sent, else one refused; the earliest of equals. Every item of the other
    chains is marked as held by it (a queued one is then never sent)."""
    rows = connection.execute(
        sa.text(
            "SELECT i.id, i.reference_number, i.status, r.integration_id, root.job_id, "
            "root.created_at FROM write_items i "
            "JOIN write_requests r ON r.id = i.write_request_id "
            "JOIN write_requests root ON root.id = COALESCE(r.retry_root, r.id)"
        )
    )
    chains: dict[tuple[str, str], dict[str, tuple[int, Any, str]]] = {}
    items: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for item_id, reference, status, integration_id, root_job, root_at in rows:
        claim = (accounts[integration_id], normalized_reference(reference))
        rank = RANK.get(status, REFUSED)
        best = chains.setdefault(claim, {}).get(root_job)
        if best is None or rank < best[0]:
            chains[claim][root_job] = (rank, root_at, root_job)
        items.setdefault(claim, []).append((item_id, root_job))
    claims, held = [], []
    for claim, candidates in chains.items():
        holder = min(candidates.values())[2]
        claims.append({"account_key": claim[0], "reference": claim[1], "job_id": holder})
        held += [{"item": i, "holder": holder} for i, chain in items[claim] if chain != holder]
    table = sa.table(
        "write_references", sa.column("account_key"), sa.column("reference"), sa.column("job_id")
    )
    for start in range(0, len(claims), CHUNK):
        connection.execute(table.insert(), claims[start : start + CHUNK])
    mark = sa.text("UPDATE write_items SET held_by_job_id = :holder WHERE id = :item")
    for start in range(0, len(held), CHUNK):
        connection.execute(mark, held[start : start + CHUNK])


def upgrade() -> None:
    connection = op.get_bind()
    accounts = _account_keys(connection)

    # Added with a default, then filled: SQLite could not rebuild `integrations` (other tables
    # refer to it) to make a nullable column required.
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_key", sa.String(length=64), nullable=False, server_default="")
        )
    update_account = sa.text("UPDATE integrations SET account_key = :key WHERE id = :id")
    if accounts:
        connection.execute(update_account, [{"id": i, "key": k} for i, k in accounts.items()])
    # A schedule of more than a year becomes a year (its integration's settings say so too).
    for cadence, seconds in CADENCE_SECONDS.items():
        connection.execute(
            sa.text(
                "UPDATE integrations SET sync_frequency = 365, sync_cadence = 'DAY' "
                "WHERE sync_cadence = :cadence AND sync_frequency > :most"
            ),
            {"cadence": cadence, "most": MAX_INTERVAL_SECONDS // seconds},
        )
    connection.execute(
        sa.text("UPDATE schedules SET interval_seconds = :most WHERE interval_seconds > :most"),
        {"most": MAX_INTERVAL_SECONDS},
    )
    if connection.dialect.name == "postgresql":
        op.alter_column("integrations", "account_key", server_default=None)
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.create_index("ix_integrations_account_key", ["account_key"], unique=False)
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.alter_column("interval_seconds", existing_type=sa.Integer(), type_=sa.BigInteger())

    # The account each write's references were claimed in: its integration's (SQLite could not
    # rebuild `write_requests` either, so again a default, filled).
    with op.batch_alter_table("write_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_key", sa.String(length=64), nullable=False, server_default="")
        )
    connection.execute(
        sa.text(
            "UPDATE write_requests SET account_key = (SELECT account_key FROM integrations "
            "WHERE integrations.id = write_requests.integration_id)"
        )
    )
    if connection.dialect.name == "postgresql":
        op.alter_column("write_requests", "account_key", server_default=None)

    with op.batch_alter_table("write_items", schema=None) as batch_op:
        batch_op.alter_column(
            "amount_in_cents",
            existing_type=sa.Integer(),
            type_=sa.BigInteger(),
            existing_nullable=False,
        )
        for name in ("accepted_at", "posted_at", "unconfirmed_at"):
            batch_op.add_column(
                sa.Column(name, propbridge.db.base.UTCDateTime(timezone=True), nullable=True)
            )
        batch_op.add_column(sa.Column("held_by_job_id", sa.String(length=36), nullable=True))
    # What ResMan took was taken when its write finished: every ACCEPTED item, and the POSTED
    # ones whose job succeeded (the others were found after an unknown outcome).
    connection.execute(
        sa.text(
            "UPDATE write_items SET accepted_at = (SELECT r.finished_at FROM write_requests r "
            "JOIN jobs j ON j.id = r.job_id WHERE r.id = write_items.write_request_id "
            "AND (write_items.status = 'ACCEPTED' OR j.state = 'succeeded')) "
            "WHERE status IN ('ACCEPTED', 'POSTED')"
        )
    )
    # A POSTED item was found when its ledger row was first stored (in that sync's transaction).
    connection.execute(
        sa.text(
            "UPDATE write_items SET posted_at = COALESCE("
            "(SELECT c.created_at FROM resident_charges c WHERE c.id = write_items.record_id), "
            "(SELECT p.created_at FROM resident_payments p WHERE p.id = write_items.record_id)) "
            "WHERE status = 'POSTED'"
        )
    )

    op.drop_table("write_references")
    op.create_table(
        "write_references",
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("account_key", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("reference", "account_key"),
    )
    _claim_references(connection, accounts)


def downgrade() -> None:
    op.drop_table("write_references")
    op.create_table(
        "write_references",
        sa.Column("reference_key", sa.String(length=600), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("reference_key"),
    )
    # 0009's claims: per (integration, batch_id, reference_number), the first write not rejected.
    op.execute(
        "INSERT INTO write_references (reference_key, job_id) SELECT k, job_id FROM ("
        "SELECT r.integration_id || '\x1f' || i.batch_id || '\x1f' || i.reference_number AS k, "
        "r.job_id, ROW_NUMBER() OVER (PARTITION BY r.integration_id, i.batch_id, "
        "i.reference_number ORDER BY CASE WHEN i.status = 'REJECTED' THEN 1 ELSE 0 END, "
        "r.created_at, r.job_id) AS n FROM write_items i JOIN write_requests r "
        "ON r.id = i.write_request_id WHERE r.retry_of IS NULL) ranked WHERE n = 1"
    )
    with op.batch_alter_table("write_items", schema=None) as batch_op:
        for name in ("held_by_job_id", "unconfirmed_at", "posted_at", "accepted_at"):
            batch_op.drop_column(name)
        batch_op.alter_column("amount_in_cents", existing_type=sa.BigInteger(), type_=sa.Integer())
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.alter_column("interval_seconds", existing_type=sa.BigInteger(), type_=sa.Integer())
    with op.batch_alter_table("write_requests", schema=None) as batch_op:
        batch_op.drop_column("account_key")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_index("ix_integrations_account_key")
        batch_op.drop_column("account_key")
