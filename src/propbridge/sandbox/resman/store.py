"""The sandbox's own state in SQLite (in memory by default, or a file given by `--state`).

Every SQL statement of the sandbox lives here; it knows nothing about HTTP.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS properties (
  property_id TEXT PRIMARY KEY, abbreviation TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
  street TEXT NOT NULL, city TEXT NOT NULL, state TEXT NOT NULL, zip TEXT NOT NULL,
  phone TEXT NOT NULL, email TEXT NOT NULL, time_zone TEXT NOT NULL, application_url TEXT NOT NULL,
  manager_person_id TEXT NOT NULL, manager_first_name TEXT NOT NULL,
  manager_last_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS unit_types (
  unit_type_id TEXT PRIMARY KEY, property_id TEXT NOT NULL, name TEXT NOT NULL,
  description TEXT NOT NULL, bedrooms INTEGER NOT NULL, bathrooms TEXT NOT NULL,
  square_feet INTEGER NOT NULL, market_rent_cents INTEGER NOT NULL, image_url TEXT);
CREATE INDEX IF NOT EXISTS ix_unit_types_property ON unit_types(property_id);
CREATE TABLE IF NOT EXISTS units (
  unit_id TEXT PRIMARY KEY, property_id TEXT NOT NULL, unit_type_id TEXT NOT NULL,
  unit_number TEXT NOT NULL, building_id TEXT NOT NULL, building TEXT NOT NULL,
  floor TEXT NOT NULL, square_feet INTEGER NOT NULL, market_rent_cents INTEGER NOT NULL,
  available_for_online_marketing INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ix_units_property ON units(property_id);
CREATE TABLE IF NOT EXISTS leases (
  lease_id TEXT PRIMARY KEY, billing_account_id TEXT NOT NULL UNIQUE, property_id TEXT NOT NULL,
  unit_id TEXT NOT NULL, status TEXT NOT NULL, application_date TEXT NOT NULL,
  approval_date TEXT, denial_date TEXT, cancellation_date TEXT, lease_signed_date TEXT, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
  scheduled_move_in_date TEXT NOT NULL, move_in_date TEXT, notice_to_vacate_date TEXT,
  scheduled_move_out_date TEXT, move_out_date TEXT, move_out_reconciliation_date TEXT,
  rent_cents INTEGER NOT NULL, prospect_id TEXT NOT NULL, prospect_source TEXT NOT NULL,
  leasing_agent TEXT NOT NULL, transferred_to TEXT, created_at TEXT NOT NULL,
  last_modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_leases_property ON leases(property_id, last_modified);
CREATE TABLE IF NOT EXISTS people (
  person_id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, first_name TEXT NOT NULL,
  middle_name TEXT, last_name TEXT NOT NULL, email TEXT, phone TEXT, phone_type TEXT,
  household_status TEXT NOT NULL, is_main_contact INTEGER NOT NULL,
  is_head_of_household INTEGER NOT NULL, is_lease_signer INTEGER NOT NULL,
  is_guarantor INTEGER NOT NULL, is_dependent INTEGER NOT NULL,
  is_excluded_from_occupancy INTEGER NOT NULL, move_in_date TEXT NOT NULL, move_out_date TEXT,
  move_out_reason TEXT, last_modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_people_lease ON people(lease_id);
CREATE TABLE IF NOT EXISTS billing_accounts (
  billing_account_id TEXT PRIMARY KEY, property_id TEXT NOT NULL, account_type TEXT NOT NULL,
  lease_id TEXT UNIQUE, person_id TEXT NOT NULL, first_name TEXT NOT NULL, middle_name TEXT,
  last_name TEXT NOT NULL, email TEXT, phone TEXT, last_modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_billing_accounts_property
  ON billing_accounts(property_id, last_modified);
CREATE TABLE IF NOT EXISTS categories (
  category_id TEXT PRIMARY KEY, abbreviation TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  type TEXT NOT NULL, is_rent INTEGER NOT NULL, is_rent_concession INTEGER NOT NULL,
  is_one_time_concession INTEGER NOT NULL, gl_account_id TEXT NOT NULL, gl_number TEXT NOT NULL,
  gl_name TEXT NOT NULL, gl_type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (
  transaction_id TEXT PRIMARY KEY, property_id TEXT NOT NULL, billing_account_id TEXT NOT NULL,
  lease_id TEXT, date TEXT NOT NULL, type TEXT NOT NULL, category_id TEXT,
  description TEXT NOT NULL, reference TEXT, amount_cents INTEGER NOT NULL,
  modified_at TEXT NOT NULL, payment_method TEXT, date_reversed TEXT, reverses TEXT);
CREATE INDEX IF NOT EXISTS ix_transactions_account ON transactions(billing_account_id, modified_at);
CREATE INDEX IF NOT EXISTS ix_transactions_property ON transactions(property_id, modified_at);
CREATE INDEX IF NOT EXISTS ix_transactions_lease ON transactions(lease_id);
CREATE TABLE IF NOT EXISTS fees (
  fee_id TEXT PRIMARY KEY, property_id TEXT NOT NULL, abbreviation TEXT NOT NULL, name TEXT NOT NULL,
  amount_cents INTEGER NOT NULL, floor_plan TEXT, frequency TEXT NOT NULL, description TEXT);
CREATE INDEX IF NOT EXISTS ix_fees_property ON fees(property_id);
CREATE TABLE IF NOT EXISTS partner_files (
  file_id TEXT PRIMARY KEY, property_id TEXT NOT NULL, batch_id TEXT NOT NULL,
  created_at TEXT NOT NULL, UNIQUE (property_id, batch_id));
CREATE TABLE IF NOT EXISTS partner_transactions (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, file_id TEXT NOT NULL, property_id TEXT NOT NULL,
  kind TEXT NOT NULL, customer_id TEXT NOT NULL, unit_id TEXT, charge_code TEXT,
  payment_type TEXT, amount TEXT NOT NULL, transaction_date TEXT NOT NULL, description TEXT,
  comment TEXT, reference TEXT, paid_by TEXT, status TEXT NOT NULL, transaction_id TEXT,
  posting_date TEXT, received_at TEXT NOT NULL, decided_at TEXT);
CREATE INDEX IF NOT EXISTS ix_partner_transactions_status ON partner_transactions(status, seq);
"""


class SandboxStore:
    """A thread-safe handle on the sandbox database."""

    def __init__(self, path: str = ":memory:") -> None:
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.row_factory = sqlite3.Row
        if path != ":memory:":
            self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=OFF")
        self._connection.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Serialise access and wrap the block in one transaction."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a read and return every row."""
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """Run a read and return its first row, if any."""
        with self._lock:
            row: sqlite3.Row | None = self._connection.execute(sql, params).fetchone()
            return row

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Bulk insert (used by the seed generator)."""
        placeholders = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
        with self.transaction() as connection:
            connection.executemany(sql, rows)

    def get_meta(self, key: str) -> str | None:
        """A value of the sandbox's own settings table."""
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the sandbox's own settings table."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def is_seeded(self) -> bool:
        """True once the seed generator has filled the store."""
        return self.get_meta("seeded") == "yes"
