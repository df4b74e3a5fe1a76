"""What the sandbox's read methods return, built from the posted ledger only.

Pending partner transactions never appear here. Shapes follow ResMan's key names.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from propbridge.sandbox.resman.store import SandboxStore


def money(cents: int) -> float:
    """Cents as the JSON number ResMan's v2 API returns (dollars)."""
    return float(Decimal(cents) / 100)


def properties(store: SandboxStore, today: date) -> list[dict[str, Any]]:
    """The account's properties, v2 shape."""
    period_start = today.replace(day=1)
    rows = store.query("SELECT * FROM properties ORDER BY abbreviation")
    return [
        {
            "propertyId": r["property_id"],
            "abbreviation": r["abbreviation"],
            "name": r["name"],
            "type": r["type"],
            "streetAddress": r["street"],
            "city": r["city"],
            "state": r["state"],
            "zip": r["zip"],
            "phone": r["phone"],
            "email": r["email"],
            "manager": r["manager"],
            "currentPeriod": {"start": period_start.isoformat(), "end": None},
            "managementTeam": [],
        }
        for r in rows
    ]


def property_row(store: SandboxStore, property_id: str) -> Any:
    """One property row, or None."""
    return store.query_one("SELECT * FROM properties WHERE property_id = ?", (property_id.lower(),))


def categories(store: SandboxStore, types: set[str] | None) -> list[dict[str, Any]]:
    """Transaction categories (ResMan's charge codes), v2 shape."""
    rows = store.query("SELECT * FROM categories ORDER BY abbreviation")
    return [
        {
            "transactionCategoryId": r["category_id"],
            "abbreviation": r["abbreviation"],
            "name": r["name"],
            "type": r["type"],
            "isRent": bool(r["is_rent"]),
            "isRecurringMonthlyRentConcession": False,
            "isOneTimeConcession": r["type"] == "Credit",
            "glAccount": {
                "glAccountId": r["gl_account_id"],
                "number": r["gl_number"],
                "name": r["gl_name"],
                "type": r["gl_type"],
            },
        }
        for r in rows
        if not types or r["type"] in types
    ]


def _people_by_lease(store: SandboxStore, lease_ids: list[str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for chunk_start in range(0, len(lease_ids), 500):
        chunk = lease_ids[chunk_start : chunk_start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in store.query(
            f"SELECT * FROM people WHERE lease_id IN ({marks}) "  # noqa: S608
            "ORDER BY is_main_contact DESC, person_id",
            chunk,
        ):
            grouped[row["lease_id"]].append(row)
    return grouped


def _leases(store: SandboxStore, property_id: str, modified_since: str | None) -> list[Any]:
    sql = (
        "SELECT l.*, u.unit_number FROM leases l JOIN units u ON u.unit_id = l.unit_id "
        "WHERE l.property_id = ?"
    )
    params: list[Any] = [property_id]
    if modified_since:
        sql += " AND l.last_modified >= ?"
        params.append(modified_since)
    return store.query(sql + " ORDER BY l.lease_id", params)


def leases(store: SandboxStore, property_id: str, modified_since: str) -> list[dict[str, Any]]:
    """Leases changed since a moment, each with its people (v2 `/Leasing/Leases`)."""
    rows = _leases(store, property_id, modified_since)
    people = _people_by_lease(store, [r["lease_id"] for r in rows])
    return [
        {
            "propertyId": r["property_id"],
            "billingAccountId": r["billing_account_id"],
            "unitId": r["unit_id"],
            "unitNumber": r["unit_number"],
            "leaseId": r["lease_id"],
            "leaseStatus": r["status"],
            "leaseStartDate": r["start_date"],
            "leaseEndDate": r["end_date"],
            "moveInDate": r["move_in_date"],
            "moveOutDate": r["move_out_date"],
            "lastModified": r["last_modified"],
            "people": [
                {
                    "personId": p["person_id"],
                    "firstName": p["first_name"],
                    "lastName": p["last_name"],
                    "email": p["email"],
                    "phone": p["phone"],
                    "residencyStatus": p["residency_status"],
                    "isMainContact": bool(p["is_main_contact"]),
                    "isHeadOfHousehold": bool(p["is_head_of_household"]),
                    "isLeaseSigner": bool(p["is_lease_signer"]),
                }
                for p in people[r["lease_id"]]
            ],
        }
        for r in rows
    ]


def _transactions(store: SandboxStore, where: str, params: list[Any]) -> list[Any]:
    """`where` is one of this module's fixed conditions; values always travel as parameters."""
    head = "SELECT t.*, c.abbreviation, c.name AS category_name, c.gl_number FROM transactions t "
    sql = f"{head}JOIN categories c ON c.category_id = t.category_id WHERE {where} ORDER BY t.date, t.transaction_id"
    return store.query(sql, params)


def billing_accounts(
    store: SandboxStore, property_id: str, modified_since: str, include_transactions: bool
) -> list[dict[str, Any]]:
    """Billing accounts changed since a moment, with balances and, if asked, transactions."""
    rows = _leases(store, property_id, modified_since)
    people = _people_by_lease(store, [r["lease_id"] for r in rows])
    balances = {
        r["lease_id"]: r["balance"]
        for r in store.query(
            "SELECT lease_id, SUM(CASE WHEN type = 'Charge' THEN amount_cents ELSE -amount_cents END) "
            "AS balance FROM transactions WHERE property_id = ? GROUP BY lease_id",
            (property_id,),
        )
    }
    by_lease: dict[str, list[Any]] = defaultdict(list)
    if include_transactions:
        for tx in _transactions(
            store, "t.property_id = ? AND t.modified_at >= ?", [property_id, modified_since]
        ):
            by_lease[tx["lease_id"]].append(tx)
    accounts = []
    for r in rows:
        main = people[r["lease_id"]][0] if people[r["lease_id"]] else None
        balance = balances.get(r["lease_id"], 0) or 0
        account: dict[str, Any] = {
            "billingAccountId": r["billing_account_id"],
            "accountType": "Lease",
            "personId": main["person_id"] if main else None,
            "firstName": main["first_name"] if main else None,
            "lastName": main["last_name"] if main else None,
            "unit": r["unit_number"],
            "leaseID": r["lease_id"],
            "leaseStatus": r["status"],
            "leaseStartDate": r["start_date"],
            "leaseEndDate": r["end_date"],
            "moveInDate": r["move_in_date"],
            "moveOutDate": r["move_out_date"],
            "balance": money(balance),
            "paymentStatus": "Delinquent" if balance > 0 else "Current",
        }
        if include_transactions:
            account["transactions"] = [
                {
                    "id": t["transaction_id"],
                    "date": t["date"],
                    "type": t["type"],
                    "trasactionCategoryId": t["category_id"],
                    "description": t["description"],
                    "reference": t["reference"],
                    "amount": money(t["amount_cents"]),
                    # Assumption: ResMan's v2 vocabulary of payment methods, on payments only.
                    **({"paymentMethod": t["payment_method"]} if t["type"] == "Payment" else {}),
                }
                for t in by_lease[r["lease_id"]]
            ]
        accounts.append(account)
    return accounts


def ledger(
    store: SandboxStore, property_id: str, billing_account_id: str, posted_since: str | None
) -> list[dict[str, Any]] | None:
    """One billing account's ledger (v2 `/Transactions/Ledger`); None if the account is unknown."""
    lease = store.query_one(
        "SELECT lease_id FROM leases WHERE property_id = ? AND billing_account_id = ?",
        (property_id, billing_account_id.lower()),
    )
    if lease is None:
        return None
    where, params = "t.lease_id = ?", [lease["lease_id"]]
    if posted_since:
        where += " AND t.modified_at >= ?"
        params.append(posted_since)
    return [
        {
            "transactionId": t["transaction_id"],
            "date": t["date"],
            "type": t["type"],
            "category": {
                "transactionCategoryId": t["category_id"],
                "name": t["category_name"],
                "abbreviation": t["abbreviation"],
            },
            "description": t["description"],
            "amount": money(t["amount_cents"]),
        }
        for t in _transactions(store, where, params)
    ]


def resident_accounts(store: SandboxStore, property_id: str) -> list[dict[str, Any]]:
    """Every lease of a property with people, unit and posted transactions (for MITS replies)."""
    rows = _leases(store, property_id, None)
    people = _people_by_lease(store, [r["lease_id"] for r in rows])
    units = {
        u["unit_id"]: u
        for u in store.query("SELECT * FROM units WHERE property_id = ?", (property_id,))
    }
    by_lease: dict[str, list[Any]] = defaultdict(list)
    for tx in _transactions(store, "t.property_id = ?", [property_id]):
        by_lease[tx["lease_id"]].append(tx)
    return [
        {
            "lease": r,
            "unit": units[r["unit_id"]],
            "people": people[r["lease_id"]],
            "transactions": by_lease[r["lease_id"]],
        }
        for r in rows
    ]


def units(store: SandboxStore, property_id: str) -> list[dict[str, Any]]:
    """A property's units, v1 `Property/GetUnits` shape (documented names, plus the assumed
    `UnitID`, `Bedrooms`, `Bathrooms`, `SquareFeet` and `MarketRent`)."""
    prop = property_row(store, property_id)
    rows = store.query(
        "SELECT * FROM units WHERE property_id = ? ORDER BY unit_number", (property_id,)
    )
    return [
        {
            "UnitID": r["unit_id"],
            "UnitNumber": r["unit_number"],
            "Building": r["building"],
            "Floor": r["unit_number"][:-2] or None,
            "StreetAddress": f"{prop['street']} #{r['unit_number']}",
            "City": prop["city"],
            "State": prop["state"],
            "Zip": prop["zip"],
            "UnitType": r["floor_plan"],
            "Bedrooms": r["bedrooms"],
            "Bathrooms": r["bathrooms"],
            "SquareFeet": r["square_feet"],
            "MarketRent": f"{Decimal(r['market_rent_cents']) / 100:.2f}",
        }
        for r in rows
    ]


def marketing(store: SandboxStore, property_id: str) -> tuple[Any, list[dict[str, Any]], list[Any]]:
    """The property, its floor plans with unit counts, sizes and rents, and its fee schedule."""
    prop = property_row(store, property_id)
    plans = [
        dict(r)
        for r in store.query(
            "SELECT floor_plan, floor_plan_name, bedrooms, bathrooms, square_feet, "
            "COUNT(*) AS units, MIN(market_rent_cents) AS rent_min, "
            "MAX(market_rent_cents) AS rent_max FROM units WHERE property_id = ? "
            "GROUP BY floor_plan, floor_plan_name, bedrooms, bathrooms, square_feet "
            "ORDER BY floor_plan",
            (property_id,),
        )
    ]
    fees = store.query(
        "SELECT * FROM fees WHERE property_id = ? ORDER BY abbreviation, floor_plan", (property_id,)
    )
    return prop, plans, fees


def recurring_charges(store: SandboxStore, property_id: str) -> list[dict[str, Any]]:
    """Each lease's scheduled monthly charges (rent, and pet rent or parking where billed)."""
    rows = store.query(
        "SELECT l.lease_id, l.status, l.start_date, l.end_date, c.category_id, c.name, "
        "MAX(t.amount_cents) AS amount_cents FROM leases l "
        "JOIN transactions t ON t.lease_id = l.lease_id "
        "JOIN categories c ON c.category_id = t.category_id "
        "WHERE l.property_id = ? AND c.abbreviation IN ('RENT', 'PETF', 'PARK') "
        "GROUP BY l.lease_id, c.category_id ORDER BY l.lease_id, c.name",
        (property_id,),
    )
    leases: dict[str, dict[str, Any]] = {}
    for r in rows:
        lease = leases.setdefault(
            r["lease_id"], {"leaseId": r["lease_id"], "status": r["status"], "recurringCharges": []}
        )
        lease["recurringCharges"].append(
            {
                "recurringChargeId": f"{r['lease_id']}:{r['category_id']}",
                "transactionCategoryId": r["category_id"],
                "type": "Charge",
                "description": r["name"],
                "amount": money(r["amount_cents"]),
                "startDate": r["start_date"],
                "endDate": r["end_date"],
            }
        )
    return list(leases.values())
