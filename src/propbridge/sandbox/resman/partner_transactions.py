"""ResMan's Partner Transactions: accept posted MITS documents as pending items, approve, reject.

Business rules of the sandbox's write side; the routes that expose them live in `app.py`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from propbridge.sandbox.resman.store import SandboxStore
from propbridge.sandbox.resman.xml_io import UnsafeXmlError, child_text, local, parse_untrusted

AMOUNT_PATTERN = re.compile(r"^\d{1,9}\.\d{2}$")
# ResMan's v2 payment-method vocabulary, plus `eCheck` and `Other` which MITS posts also use.
PAYMENT_TYPES = frozenset(
    {
        "ACH",
        "AvidPay",
        "Cash",
        "Cashiers Check",
        "Check",
        "Credit Card",
        "Debit Card",
        "eCheck",
        "ETF",
        "Money Order",
        "Nexus Pay",
        "Other",
        "Payment File",
        "Wire",
    }
)


class PostRejectedError(ValueError):
    """The whole document is refused; the message becomes ResMan's `ErrorDescription`."""


class NotFoundError(LookupError):
    """No such partner transaction or file."""


class NotPendingError(ValueError):
    """The item was already approved or rejected."""


@dataclass
class PostedTransaction:
    """One transaction of a posted document, as ResMan received it (text kept as sent)."""

    kind: str
    customer_id: str
    unit_id: str | None
    charge_code: str | None
    payment_type: str | None
    amount: str
    transaction_date: str
    description: str | None
    comment: str | None
    reference: str | None
    paid_by: str | None
    batch_id: str | None
    problems: list[str] = field(default_factory=list)


def iso(moment: datetime) -> str:
    """An instant as ResMan-style ISO text (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def amount_to_cents(amount: str) -> int:
    """`"75.00"` → 7500, exactly."""
    whole, _, fraction = amount.partition(".")
    return int(whole) * 100 + int(fraction)


def read_document(store: SandboxStore, property_id: str, xml_text: str) -> list[PostedTransaction]:
    """Parse and check a ResidentTransactions document against the property's data."""
    try:
        root = parse_untrusted(xml_text)
    except UnsafeXmlError as error:
        raise PostRejectedError(f"Invalid XML: {error}") from error
    except etree.XMLSyntaxError as error:
        raise PostRejectedError(f"Invalid XML: {error}") from error
    if local(root) != "ResidentTransactions":
        raise PostRejectedError("Invalid XML: the root element must be ResidentTransactions")
    posted = [_read_transaction(element) for element in _transaction_elements(root)]
    if not posted:
        raise PostRejectedError("No transactions were found in the document")
    _check(store, property_id, posted)
    problems = [
        f"Transaction {i + 1}: {'; '.join(t.problems)}" for i, t in enumerate(posted) if t.problems
    ]
    if problems:
        raise PostRejectedError(" | ".join(problems))
    return posted


def _transaction_elements(root: Any) -> list[Any]:
    found: list[Any] = []
    for wrapper in root.iter():
        if isinstance(wrapper.tag, str) and local(wrapper) == "Transactions":
            found.extend(child for child in wrapper if isinstance(child.tag, str))
    return found


def _read_transaction(element: Any) -> PostedTransaction:
    kind = local(element)
    detail = next((c for c in element if isinstance(c.tag, str) and local(c) == "Detail"), None)
    values: dict[str, str | None] = {}
    if detail is not None:
        for name in (
            "CustomerID",
            "UnitID",
            "ChargeCode",
            "Amount",
            "TransactionDate",
            "Description",
            "Comment",
            "TransactionID",
            "DocumentNumber",
            "PaidBy",
            "BatchID",
            "PropertyPrimaryID",
        ):
            values[name] = child_text(detail, name)
    posted = PostedTransaction(
        kind={"Charge": "charge", "Payment": "payment"}.get(kind, kind.lower()),
        customer_id=(values.get("CustomerID") or "").strip().lower(),
        unit_id=values.get("UnitID"),
        charge_code=values.get("ChargeCode"),
        payment_type=element.get("Type") if kind == "Payment" else None,
        amount=(values.get("Amount") or "").strip(),
        transaction_date=(values.get("TransactionDate") or "").strip(),
        description=values.get("Description"),
        comment=values.get("Comment"),
        reference=values.get("TransactionID") or values.get("DocumentNumber"),
        paid_by=values.get("PaidBy"),
        batch_id=values.get("BatchID"),
    )
    if detail is None:
        posted.problems.append(f"{kind} has no Detail element")
    if kind not in ("Charge", "Payment"):
        posted.problems.append(f"{kind} transactions cannot be posted by partners")
    primary = values.get("PropertyPrimaryID")
    if primary is not None:
        posted.problems.extend([] if primary else ["PropertyPrimaryID is empty"])
    return posted


def _check(store: SandboxStore, property_id: str, posted: list[PostedTransaction]) -> None:
    leases = {
        row["lease_id"]: row["unit_number"]
        for row in store.query(
            "SELECT l.lease_id, u.unit_number FROM leases l JOIN units u ON u.unit_id = l.unit_id "
            "WHERE l.property_id = ?",
            (property_id,),
        )
    }
    charge_codes = {
        row["abbreviation"]
        for row in store.query(
            "SELECT abbreviation FROM categories WHERE type IN ('Charge', 'Credit')"
        )
    }
    for t in posted:
        if not t.customer_id:
            t.problems.append("CustomerID is required")
        elif t.customer_id not in leases:
            t.problems.append(f"CustomerID {t.customer_id} was not found in property {property_id}")
        elif t.unit_id and t.unit_id != leases[t.customer_id]:
            t.problems.append(
                f"UnitID {t.unit_id} does not match the unit of CustomerID {t.customer_id}"
            )
        if t.kind == "charge":
            if not t.charge_code:
                t.problems.append("ChargeCode is required for a Charge")
            elif t.charge_code not in charge_codes:
                t.problems.append(f"ChargeCode {t.charge_code} was not found")
        if t.kind == "payment" and t.payment_type not in PAYMENT_TYPES:
            t.problems.append(f"Payment Type {t.payment_type!r} is not a valid payment type")
        if not AMOUNT_PATTERN.match(t.amount):
            t.problems.append(f"Amount {t.amount!r} must be a positive number with two decimals")
        elif amount_to_cents(t.amount) <= 0:
            t.problems.append("Amount must be greater than zero")
        try:
            day = date.fromisoformat(t.transaction_date)
            if len(t.transaction_date) != 10:
                raise ValueError
            # Assumption (ResMan's limits are not public): dates of 1900 to 2099.
            if not 1900 <= day.year <= 2099:
                t.problems.append(f"TransactionDate {t.transaction_date} is out of range")
        except ValueError:
            t.problems.append(f"TransactionDate {t.transaction_date!r} is not a valid date")


def store_pending(
    store: SandboxStore, property_id: str, posted: list[PostedTransaction], now: datetime
) -> list[str]:
    """Keep each transaction as a pending partner transaction, filed by (property, BatchID)."""
    received = iso(now)
    ids = []
    with store.transaction() as db:
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM partner_transactions").fetchone()[0]
        for t in posted:
            batch = t.batch_id or f"unbatched-{received}"
            row = db.execute(
                "SELECT file_id FROM partner_files WHERE property_id = ? AND batch_id = ?",
                (property_id, batch),
            ).fetchone()
            if row is None:
                file_id = str(uuid.uuid4())
                db.execute(
                    "INSERT INTO partner_files VALUES (?, ?, ?, ?)",
                    (file_id, property_id, batch, received),
                )
            else:
                file_id = row[0]
            seq += 1
            item_id = str(uuid.uuid4())
            ids.append(item_id)
            db.execute(
                "INSERT INTO partner_transactions (id, seq, file_id, property_id, kind, customer_id, "
                "unit_id, charge_code, payment_type, amount, transaction_date, description, comment, "
                "reference, paid_by, status, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (
                    item_id,
                    seq,
                    file_id,
                    property_id,
                    t.kind,
                    t.customer_id,
                    t.unit_id,
                    t.charge_code,
                    t.payment_type,
                    t.amount,
                    t.transaction_date,
                    t.description,
                    t.comment,
                    t.reference,
                    t.paid_by,
                    received,
                ),
            )
    return ids


def list_items(
    store: SandboxStore, status: str | None = None, file_id: str | None = None
) -> list[dict[str, Any]]:
    """Partner transactions, oldest first, optionally by status and file."""
    sql = (
        "SELECT p.*, f.batch_id FROM partner_transactions p "
        "JOIN partner_files f ON f.file_id = p.file_id WHERE 1 = 1"
    )
    params: list[Any] = []
    if status:
        sql += " AND p.status = ?"
        params.append(status)
    if file_id:
        sql += " AND p.file_id = ?"
        params.append(file_id)
    return [_public(row) for row in store.query(sql + " ORDER BY p.seq", params)]


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "file_id": row["file_id"],
        "batch_id": row["batch_id"],
        "property_id": row["property_id"],
        "kind": row["kind"],
        "customer_id": row["customer_id"],
        "unit_id": row["unit_id"],
        "charge_code": row["charge_code"],
        "payment_type": row["payment_type"],
        "amount": row["amount"],
        "transaction_date": row["transaction_date"],
        "description": row["description"],
        "comment": row["comment"],
        "reference": row["reference"],
        "paid_by": row["paid_by"],
        "status": row["status"],
        "transaction_id": row["transaction_id"],
        "posting_date": row["posting_date"],
        "received_at": row["received_at"],
    }


def approve(
    store: SandboxStore, item_id: str, now: datetime, posting_date: str | None = None
) -> dict[str, Any]:
    """Post a pending item to the resident's ledger under a new ResMan transaction id."""
    if posting_date is not None:
        date.fromisoformat(posting_date)
    with store.transaction() as db:
        row = db.execute("SELECT * FROM partner_transactions WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise NotFoundError(item_id)
        if row["status"] != "pending":
            raise NotPendingError(f"partner transaction {item_id} is already {row['status']}")
        abbreviation = "PMNT" if row["kind"] == "payment" else row["charge_code"]
        stamp = iso(now)
        posted_on = posting_date or row["transaction_date"]
        transaction_id, _kind = _to_ledger(
            db,
            row["customer_id"],
            posted_on,
            abbreviation,
            row["description"] or "",
            row["reference"],
            amount_to_cents(row["amount"]),
            row["payment_type"],
            stamp,
        )
        db.execute(
            "UPDATE partner_transactions SET status = 'posted', transaction_id = ?, posting_date = ?, "
            "decided_at = ? WHERE id = ?",
            (transaction_id, posted_on, stamp, item_id),
        )
    return get_item(store, item_id)


def reject(store: SandboxStore, item_id: str, now: datetime) -> dict[str, Any]:
    """Discard a pending item; nothing reaches the ledger."""
    with store.transaction() as db:
        row = db.execute(
            "SELECT status FROM partner_transactions WHERE id = ?", (item_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(item_id)
        if row["status"] != "pending":
            raise NotPendingError(f"partner transaction {item_id} is already {row['status']}")
        db.execute(
            "UPDATE partner_transactions SET status = 'rejected', decided_at = ? WHERE id = ?",
            (iso(now), item_id),
        )
    return get_item(store, item_id)


def get_item(store: SandboxStore, item_id: str) -> dict[str, Any]:
    """One partner transaction."""
    row = store.query_one(
        "SELECT p.*, f.batch_id FROM partner_transactions p JOIN partner_files f "
        "ON f.file_id = p.file_id WHERE p.id = ?",
        (item_id,),
    )
    if row is None:
        raise NotFoundError(item_id)
    return _public(row)


def file_item_ids(store: SandboxStore, file_id: str) -> list[str]:
    """The pending items of one partner file."""
    if store.query_one("SELECT 1 FROM partner_files WHERE file_id = ?", (file_id,)) is None:
        raise NotFoundError(file_id)
    return [
        row["id"]
        for row in store.query(
            "SELECT id FROM partner_transactions WHERE file_id = ? AND status = 'pending' ORDER BY seq",
            (file_id,),
        )
    ]


def post_to_ledger(
    store: SandboxStore,
    lease_id: str,
    charge_code: str,
    amount: str,
    day: str,
    description: str | None,
    reference: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A ledger transaction entered by staff (no partner file), visible to reads at once."""
    if not AMOUNT_PATTERN.match(amount) or amount_to_cents(amount) <= 0:
        raise ValueError("amount must be positive with two decimals")
    date.fromisoformat(day)
    with store.transaction() as db:
        transaction_id, kind = _to_ledger(
            db,
            lease_id.lower(),
            day,
            charge_code,
            description or "",
            reference,
            amount_to_cents(amount),
            "ACH",
            iso(now),
        )
    return {
        "transaction_id": transaction_id,
        "lease_id": lease_id.lower(),
        "type": kind,
        "charge_code": charge_code,
        "amount": amount,
        "date": day,
    }


def _to_ledger(
    db: Any,
    lease_id: str,
    day: str,
    abbreviation: str,
    description: str,
    reference: str | None,
    cents: int,
    method: str | None,
    stamp: str,
) -> tuple[str, str]:
    """A new ledger transaction on a lease's billing account (which, with the lease, counts as
    modified now); returns its id and type. A payment without a reference gets one, as every
    payment row of ResMan's ledger carries one."""
    lease = db.execute(
        "SELECT property_id, billing_account_id FROM leases WHERE lease_id = ?", (lease_id,)
    ).fetchone()
    if lease is None:
        raise NotFoundError(f"lease {lease_id}")
    category = db.execute(
        "SELECT category_id, type FROM categories WHERE abbreviation = ?", (abbreviation,)
    ).fetchone()
    if category is None:
        raise NotFoundError(f"charge code {abbreviation}")
    transaction_id = str(uuid.uuid4())
    payment = category["type"] == "Payment"
    if payment and not reference:
        reference = transaction_id[:8].upper()
    db.execute(
        "INSERT INTO transactions (transaction_id, property_id, billing_account_id, lease_id, "
        "date, type, category_id, description, reference, amount_cents, modified_at, "
        "payment_method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            transaction_id,
            lease["property_id"],
            lease["billing_account_id"],
            lease_id,
            day,
            category["type"],
            category["category_id"],
            description,
            reference,
            cents,
            stamp,
            (method or "Other") if payment else None,
        ),
    )
    _touch(db, lease["billing_account_id"], stamp)
    return transaction_id, str(category["type"])


def _touch(db: Any, billing_account_id: str, stamp: str) -> None:
    """A billing account changed: it, and its lease, count as modified."""
    db.execute(
        "UPDATE billing_accounts SET last_modified = ? WHERE billing_account_id = ?",
        (stamp, billing_account_id),
    )
    db.execute(
        "UPDATE leases SET last_modified = ? WHERE billing_account_id = ?",
        (stamp, billing_account_id),
    )


def reverse_payment(
    store: SandboxStore, transaction_id: str, day: str, reason: str, now: datetime
) -> dict[str, Any]:
    """Reverse a posted payment, as staff do when it bounces (NSF): the payment stays on the
    ledger marked with the day, and a row without category undoes it.

    Assumption (no public capture of a reversal): the reversing row has the payment's type,
    reference and method, a negative amount and no category."""
    date.fromisoformat(day)
    stamp = iso(now)
    with store.transaction() as db:
        row = db.execute(
            "SELECT * FROM transactions WHERE transaction_id = ?", (transaction_id.lower(),)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"transaction {transaction_id}")
        if row["type"] != "Payment" or row["category_id"] is None:
            raise ValueError("only a payment can be reversed")
        if row["date_reversed"]:
            raise NotPendingError(f"transaction {transaction_id} was reversed already")
        db.execute(
            "UPDATE transactions SET date_reversed = ?, modified_at = ? WHERE transaction_id = ?",
            (day, stamp, row["transaction_id"]),
        )
        reversal_id = str(uuid.uuid4())
        db.execute(
            "INSERT INTO transactions (transaction_id, property_id, billing_account_id, lease_id, "
            "date, type, category_id, description, reference, amount_cents, modified_at, "
            "payment_method, reverses) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
            (
                reversal_id,
                row["property_id"],
                row["billing_account_id"],
                row["lease_id"],
                day,
                row["type"],
                f"Reversal: {reason} ({row['description']})",
                row["reference"],
                -row["amount_cents"],
                stamp,
                row["payment_method"],
                row["transaction_id"],
            ),
        )
        _touch(db, row["billing_account_id"], stamp)
    return {"transaction_id": row["transaction_id"], "reversal_id": reversal_id, "date": day}


# Reads for the Partner Transactions page: names and recent decisions.


def property_names(store: SandboxStore) -> dict[str, str]:
    """Each property's name, by its id."""
    return {
        row["property_id"]: row["name"]
        for row in store.query("SELECT property_id, name FROM properties")
    }


def lease_holder_names(store: SandboxStore, lease_ids: Iterable[str]) -> dict[str, str]:
    """The name of each lease's holder (its billing account's holder, else its main contact),
    by lease id (a partner's CustomerID); a lease the store does not know is left out. The lease's
    holder, not necessarily the person a transaction is about: MITS names only the lease."""
    wanted = sorted({lease_id.lower() for lease_id in lease_ids})
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in store.query(
            "SELECT lease_id, first_name, last_name FROM people "  # noqa: S608
            f"WHERE lease_id IN ({marks}) ORDER BY is_main_contact, is_head_of_household",
            chunk,
        ):
            names[row["lease_id"]] = f"{row['first_name']} {row['last_name']}"
        for row in store.query(
            "SELECT lease_id, first_name, last_name FROM billing_accounts "  # noqa: S608
            f"WHERE lease_id IN ({marks})",
            chunk,
        ):
            names[row["lease_id"]] = f"{row['first_name']} {row['last_name']}"
    return names


def charge_code_names(store: SandboxStore) -> dict[str, str]:
    """Each charge code's name (`PETF` → `Pet Fee`)."""
    return {
        row["abbreviation"]: row["name"]
        for row in store.query("SELECT abbreviation, name FROM categories")
    }


def count_items(store: SandboxStore, status: str) -> int:
    """How many partner transactions have this status."""
    row = store.query_one(
        "SELECT COUNT(*) AS n FROM partner_transactions WHERE status = ?", (status,)
    )
    return 0 if row is None else int(row["n"])


def recent_decisions(store: SandboxStore, status: str, limit: int = 20) -> list[dict[str, Any]]:
    """The latest posted or rejected partner transactions, newest decision first, each with
    `decided_at` (when it was approved or rejected)."""
    rows = store.query(
        "SELECT p.*, f.batch_id FROM partner_transactions p "
        "JOIN partner_files f ON f.file_id = p.file_id WHERE p.status = ? "
        "ORDER BY p.decided_at DESC, p.seq DESC LIMIT ?",
        (status, limit),
    )
    return [{**_public(row), "decided_at": row["decided_at"]} for row in rows]
