"""What the sandbox's read methods return, built from the posted ledger only.

Pending partner transactions never appear here. Every v2 item carries exactly the keys live
ResMan's does (tests/contracts/resman_v2.json says which, and on what evidence); v1 items carry
the documented keys. Shapes and queries only: the routes check the parameters first.
"""

from __future__ import annotations

import calendar
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from propbridge.sandbox.resman.store import SandboxStore

NAMES = uuid.UUID("2f6d1d0a-7c43-4a0e-9d43-1b0c6f1e5a77")
# The ResidencyStatus values live ResMan was seen to give (its people on current leases).
RESIDENCY_STATUSES = frozenset({"Current", "Under Eviction", "Notice to Vacate", "Month to Month"})
# Lease statuses of a household that lives in its unit now.
IN_RESIDENCE = RESIDENCY_STATUSES


def money(cents: int) -> float:
    """Cents as the JSON number ResMan's v2 API returns (dollars)."""
    return float(Decimal(cents) / 100)


def _name_id(name: str) -> str:
    """A stable GUID for something the seed names but does not store (an agent, a source)."""
    return str(uuid.uuid5(NAMES, name))


def _chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _in(column: str, count: int) -> str:
    return f"{column} IN ({', '.join('?' for _ in range(count))})"


# ------------------------------------------------------------------------------ properties
def property_row(store: SandboxStore, property_id: str) -> Any:
    """One property row, or None."""
    return store.query_one("SELECT * FROM properties WHERE property_id = ?", (property_id.lower(),))


def properties(store: SandboxStore, today: date) -> list[dict[str, Any]]:
    """The account's properties (v2 `/Properties`). The accounting period is the month."""
    last_day = calendar.monthrange(today.year, today.month)[1]
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
            "timeZone": r["time_zone"],
            # Live: "always null in observed responses"; the manager is in managementTeam.
            "manager": None,
            "defaultUnitApplicationUrl": r["application_url"],
            "currentPeriod": {
                "start": today.replace(day=1).isoformat(),
                "end": today.replace(day=last_day).isoformat(),
            },
            "managementTeam": [
                {
                    "personId": r["manager_person_id"],
                    "firstName": r["manager_first_name"],
                    "lastName": r["manager_last_name"],
                    "role": "Property Manager",
                }
            ],
        }
        for r in store.query("SELECT * FROM properties ORDER BY abbreviation")
    ]


def v1_properties(store: SandboxStore) -> list[dict[str, Any]]:
    """v1 `Account/GetProperties` items; `Manager` is left out when unknown (live omits it
    sometimes)."""
    return [
        {
            "PropertyID": r["property_id"],
            "Name": r["name"],
            "StreetAddress": r["street"],
            "City": r["city"],
            "State": r["state"],
            "Zip": r["zip"],
            "Phone": r["phone"],
            "Email": r["email"],
        }
        for r in store.query("SELECT * FROM properties ORDER BY abbreviation")
    ]


# ------------------------------------------------------------------------------ categories
def categories(store: SandboxStore, category_type: str | None) -> list[dict[str, Any]]:
    """Transaction categories of one type (v2 `/TransactionCategories`); None: none at all, as
    live answers a comma-joined `types`."""
    if category_type is None:
        return []
    return [
        {
            "transactionCategoryId": r["category_id"],
            "abbreviation": r["abbreviation"],
            "name": r["name"],
            "type": r["type"],
            "isRent": bool(r["is_rent"]),
            "isRecurringMonthlyRentConcession": bool(r["is_rent_concession"]),
            "isOneTimeConcession": bool(r["is_one_time_concession"]),
            "glAccount": {
                "glAccountId": r["gl_account_id"],
                "number": r["gl_number"],
                "name": r["gl_name"],
                "type": r["gl_type"],
            },
        }
        for r in store.query(
            "SELECT * FROM categories WHERE type = ? ORDER BY abbreviation", (category_type,)
        )
    ]


# ------------------------------------------------------------------------------ units
def _unit_rows(store: SandboxStore, property_id: str) -> list[Any]:
    return store.query(
        "SELECT u.*, t.name AS unit_type, t.description AS unit_type_description, t.bedrooms, "
        "t.bathrooms, p.street, p.city, p.state, p.zip FROM units u "
        "JOIN unit_types t ON t.unit_type_id = u.unit_type_id "
        "JOIN properties p ON p.property_id = u.property_id "
        "WHERE u.property_id = ? ORDER BY u.unit_number",
        (property_id,),
    )


def _amenities(unit: Any) -> list[dict[str, Any]]:
    """Top-floor units have a view, which the market rent includes."""
    if unit["floor"] != "4":
        return []
    return [
        {
            "amenityId": _name_id(f"view:{unit['property_id']}"),
            "name": "Top-floor view",
            "charge": 25.0,
            "impactsMarketRent": True,
            "availableForOnlineMarketing": True,
        }
    ]


def units(store: SandboxStore, property_id: str) -> list[dict[str, Any]]:
    """A property's units (v2 `/Units`)."""
    return [
        {
            "unitId": r["unit_id"],
            "propertyId": r["property_id"],
            "unitNumber": r["unit_number"],
            "unitTypeId": r["unit_type_id"],
            "unitType": r["unit_type"],
            "buildingId": r["building_id"],
            "building": r["building"],
            "floor": r["floor"],
            "squareFeet": r["square_feet"],
            "streetAddress": f"{r['street']} #{r['unit_number']}",
            "city": r["city"],
            "state": r["state"],
            "zip": r["zip"],
            "excludedFromOccupancy": False,
            "availableForOnlineMarketing": bool(r["available_for_online_marketing"]),
            "marketRent": money(r["market_rent_cents"]),
            "amenities": _amenities(r),
            "isAffordableUnit": False,
            "isHoldingUnit": False,
        }
        for r in _unit_rows(store, property_id)
    ]


def v1_units(store: SandboxStore, property_id: str) -> list[dict[str, Any]]:
    """v1 `Property/GetUnits` items, with the documented keys only (ResMan's Property docs)."""
    return [
        {
            "UnitNumber": r["unit_number"],
            "Building": r["building"],
            "Floor": r["floor"],
            "StreetAddress": f"{r['street']} #{r['unit_number']}",
            "City": r["city"],
            "State": r["state"],
            "Zip": r["zip"],
            "UnitType": r["unit_type"],
        }
        for r in _unit_rows(store, property_id)
    ]


# ------------------------------------------------------------------------------ leases
@dataclass
class LeaseQuery:
    """Which leases `/Leasing/Leases` and the MITS reads return (conditions are this module's
    fixed SQL; values travel as parameters)."""

    property_id: str
    modified_since: str | None = None
    conditions: list[str] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)


def _lease_rows(store: SandboxStore, query: LeaseQuery) -> list[Any]:
    sql = (
        "SELECT l.*, u.unit_number, u.unit_type_id, t.name AS unit_type_name, "
        "n.billing_account_id AS to_account, n.unit_id AS to_unit, nu.unit_number AS to_number "
        "FROM leases l JOIN units u ON u.unit_id = l.unit_id "
        "JOIN unit_types t ON t.unit_type_id = u.unit_type_id "
        "LEFT JOIN leases n ON n.lease_id = l.transferred_to "
        "LEFT JOIN units nu ON nu.unit_id = n.unit_id WHERE l.property_id = ?"
    )
    params: list[Any] = [query.property_id]
    if query.modified_since:
        sql += " AND l.last_modified >= ?"
        params.append(query.modified_since)
    for condition in query.conditions:
        sql += f" AND {condition}"
    return store.query(sql + " ORDER BY l.lease_id", [*params, *query.values])


def _people_by_lease(store: SandboxStore, lease_ids: list[str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for chunk in _chunks(lease_ids):
        for row in store.query(
            f"SELECT * FROM people WHERE {_in('lease_id', len(chunk))} "  # noqa: S608
            "ORDER BY is_main_contact DESC, is_guarantor, person_id",
            chunk,
        ):
            grouped[row["lease_id"]].append(row)
    return grouped


def _person(p: Any, lease_status: str) -> dict[str, Any]:
    return {
        "personId": p["person_id"],
        "firstName": p["first_name"],
        "middleName": p["middle_name"],
        "lastName": p["last_name"],
        "email": p["email"],
        "phone": p["phone"],
        "phoneType": p["phone_type"],
        "householdStatus": p["household_status"],
        # Assumption: outside the statuses live was seen to give (current households), the
        # lease's own status (tests/contracts/resman_v2.json, open questions).
        "residencyStatus": lease_status,
        "isMainContact": bool(p["is_main_contact"]),
        "isHeadOfHousehold": bool(p["is_head_of_household"]),
        "isLeaseSigner": bool(p["is_lease_signer"]),
        "isGuarantor": bool(p["is_guarantor"]),
        "isDependent": bool(p["is_dependent"]),
        "isExcludedFromOccupancy": bool(p["is_excluded_from_occupancy"]),
        "moveInDate": p["move_in_date"],
        "moveOutDate": p["move_out_date"],
        "moveOutReason": p["move_out_reason"],
        "lastModified": p["last_modified"],
    }


def _history(r: Any) -> list[dict[str, Any]]:
    return [
        {
            "leaseId": r["lease_id"],
            "status": r["status"],
            "applicationDate": r["application_date"],
            "signedDate": r["lease_signed_date"],
            "startDate": r["start_date"],
            "endDate": r["end_date"],
            "rent": money(r["rent_cents"]),
            "recurringRentConcessions": 0.0,
            "otherConcessions": 0.0,
            "otherCharges": 0.0,
            "dateCreated": r["created_at"],
        }
    ]


def leases(store: SandboxStore, query: LeaseQuery, with_history: bool) -> list[dict[str, Any]]:
    """Leases with their people (v2 `/Leasing/Leases`)."""
    rows = _lease_rows(store, query)
    people = _people_by_lease(store, [r["lease_id"] for r in rows])
    out = []
    for r in rows:
        lease = {
            "propertyId": r["property_id"],
            "billingAccountId": r["billing_account_id"],
            "unitId": r["unit_id"],
            "unitNumber": r["unit_number"],
            "unitTypeId": r["unit_type_id"],
            "unitTypeName": r["unit_type_name"],
            "prospectId": r["prospect_id"],
            "prospectSourceId": _name_id(r["prospect_source"]),
            "prospectSourceName": r["prospect_source"],
            "leaseId": r["lease_id"],
            "leaseStatus": r["status"],
            "leasingAgentPersonId": _name_id(r["leasing_agent"]),
            "leasingAgentName": r["leasing_agent"],
            "leaseStartDate": r["start_date"],
            "leaseEndDate": r["end_date"],
            "applicationDate": r["application_date"],
            "approvalDate": r["approval_date"],
            "denialDate": r["denial_date"],
            "cancellationDate": r["cancellation_date"],
            "leaseSignedDate": r["lease_signed_date"],
            "scheduledMoveInDate": r["scheduled_move_in_date"],
            "moveInDate": r["move_in_date"],
            "noticeToVacateDate": r["notice_to_vacate_date"],
            "scheduledMoveOutDate": r["scheduled_move_out_date"],
            "moveOutDate": r["move_out_date"],
            "moveOutReconciliationDate": r["move_out_reconciliation_date"],
            "transferredTo": None
            if r["transferred_to"] is None
            else {
                "billingAccountId": r["to_account"],
                "unitId": r["to_unit"],
                "unitNumber": r["to_number"],
            },
            "lastModified": r["last_modified"],
            "people": [_person(p, r["status"]) for p in people[r["lease_id"]]],
        }
        if with_history:
            lease["history"] = _history(r)
        out.append(lease)
    return out


def recurring_charges(store: SandboxStore, property_id: str) -> list[dict[str, Any]]:
    """Each household's scheduled monthly charges (rent; pet rent, parking and insurance where
    billed), v2 `/Leasing/RecurringCharges`."""
    rows = store.query(
        "SELECT l.lease_id, l.status, l.start_date, l.end_date, c.category_id, c.name, "
        "c.abbreviation, MAX(t.amount_cents) AS amount_cents FROM leases l "
        "JOIN transactions t ON t.lease_id = l.lease_id "
        "JOIN categories c ON c.category_id = t.category_id "
        "WHERE l.property_id = ? AND c.abbreviation IN ('RENT', 'PETF', 'PARK', 'INSR') "
        "GROUP BY l.lease_id, c.category_id ORDER BY l.lease_id, c.name",
        (property_id,),
    )
    grouped: dict[str, dict[str, Any]] = {}
    for r in rows:
        lease = grouped.setdefault(
            r["lease_id"], {"leaseId": r["lease_id"], "status": r["status"], "recurringCharges": []}
        )
        parking = r["abbreviation"] == "PARK"
        lease["recurringCharges"].append(
            {
                "recurringChargeId": str(uuid.uuid5(NAMES, f"{r['lease_id']}:{r['category_id']}")),
                "transactionCategoryId": r["category_id"],
                "type": "Charge",
                "description": r["name"],
                "amount": money(r["amount_cents"]),
                "startDate": r["start_date"],
                "endDate": r["end_date"],
                "splitLedger": None,
                "rentableItem": {
                    "rentableItemId": str(uuid.uuid5(NAMES, f"space:{r['lease_id']}")),
                    "name": f"Parking space {r['lease_id'][:4].upper()}",
                    "rentableItemTypeId": _name_id("Parking"),
                    "rentableItemTypeName": "Parking",
                }
                if parking
                else None,
            }
        )
    return list(grouped.values())


# ------------------------------------------------------------------------------ accounts
@dataclass
class AccountQuery:
    """Which billing accounts `/BillingAccounts` returns."""

    property_id: str
    modified_since: str
    billing_account_id: str | None = None
    person_id: str | None = None
    account_types: list[str] | None = None


def _transaction_rows(store: SandboxStore, where: str, params: Sequence[Any]) -> list[Any]:
    """`where` is one of this module's fixed conditions; values always travel as parameters."""
    head = (
        "SELECT t.*, c.abbreviation, c.name AS category_name, c.gl_number FROM transactions t "
        "LEFT JOIN categories c ON c.category_id = t.category_id"
    )
    return store.query(f"{head} WHERE {where} ORDER BY t.date, t.transaction_id", params)


def _balances(store: SandboxStore, property_id: str) -> dict[str, int]:
    return {
        r["billing_account_id"]: r["balance"] or 0
        for r in store.query(
            "SELECT billing_account_id, SUM(CASE WHEN type = 'Charge' THEN amount_cents "
            "ELSE -amount_cents END) AS balance FROM transactions WHERE property_id = ? "
            "GROUP BY billing_account_id",
            (property_id,),
        )
    }


def billing_accounts(
    store: SandboxStore, query: AccountQuery, include_transactions: bool
) -> list[dict[str, Any]]:
    """Billing accounts changed since a moment, with balances and, if asked, the transactions
    changed since then (v2 `/BillingAccounts`).

    Assumption (nothing public says): `modifiedSince` selects the accounts changed since, and
    their transactions changed since; without `includeTransactions`, an empty list."""
    sql = (
        "SELECT b.*, l.status, l.lease_signed_date, l.start_date, l.end_date, l.move_in_date, "
        "l.move_out_date, u.unit_number, u.building, p.street, p.city, p.state, p.zip, "
        "m.household_status, m.phone_type FROM billing_accounts b "
        "JOIN properties p ON p.property_id = b.property_id "
        "LEFT JOIN leases l ON l.lease_id = b.lease_id LEFT JOIN units u ON u.unit_id = l.unit_id "
        "LEFT JOIN people m ON m.person_id = b.person_id "
        "WHERE b.property_id = ? AND b.last_modified >= ?"
    )
    params: list[Any] = [query.property_id, query.modified_since]
    if query.billing_account_id:
        sql += " AND b.billing_account_id = ?"
        params.append(query.billing_account_id)
    if query.person_id:
        sql += (
            " AND (b.person_id = ? OR b.lease_id IN (SELECT lease_id FROM people "
            "WHERE person_id = ?))"
        )
        params += [query.person_id, query.person_id]
    if query.account_types:
        sql += " AND " + _in("b.account_type", len(query.account_types))
        params += query.account_types
    rows = store.query(sql + " ORDER BY b.billing_account_id", params)
    balances = _balances(store, query.property_id)
    by_account: dict[str, list[Any]] = defaultdict(list)
    if include_transactions:
        for tx in _transaction_rows(
            store,
            "t.property_id = ? AND t.modified_at >= ?",
            (query.property_id, query.modified_since),
        ):
            by_account[tx["billing_account_id"]].append(tx)
    return [
        _account(r, balances.get(r["billing_account_id"], 0), by_account[r["billing_account_id"]])
        for r in rows
    ]


def _account(r: Any, balance: int, transactions: list[Any]) -> dict[str, Any]:
    """One v2 billing account object, with its transactions."""
    on_lease = r["lease_id"] is not None
    mobile = r["phone_type"] == "Mobile" or not on_lease
    return {
        "propertyId": r["property_id"],
        "accountType": r["account_type"],
        "billingAccountId": r["billing_account_id"],
        "personId": r["person_id"],
        "firstName": r["first_name"],
        "middleName": r["middle_name"],
        "lastName": r["last_name"],
        "building": r["building"] if on_lease else "",
        "unit": r["unit_number"] if on_lease else "",
        "streetAddress": (f"{r['street']} #{r['unit_number']}" if on_lease else r["street"]),
        "city": r["city"],
        "state": r["state"],
        "zip": r["zip"],
        "email": r["email"],
        "mobilePhone": r["phone"] if mobile else None,
        "homePhone": None if mobile else r["phone"],
        "householdStatus": r["household_status"],
        "moveInDate": r["move_in_date"],
        "moveOutDate": r["move_out_date"],
        # Spelled so on the wire (live-verified).
        "leaseID": r["lease_id"],
        # Assumption: an account without a lease has no lease status to give.
        "leaseStatus": r["status"] or "",
        "leaseSignedDate": r["lease_signed_date"],
        "leaseStartDate": r["start_date"],
        "leaseEndDate": r["end_date"],
        "balance": money(balance),
        "paymentStatus": "Delinquent" if balance > 0 else "Current",
        "transactions": [
            {
                "id": t["transaction_id"],
                "date": t["date"],
                "type": t["type"],
                "transactionCategoryId": t["category_id"],
                "description": t["description"],
                "reference": t["reference"],
                "amount": money(t["amount_cents"]),
            }
            for t in transactions
        ],
    }


def account_exists(store: SandboxStore, property_id: str, billing_account_id: str) -> bool:
    """Whether the property has this billing account."""
    return (
        store.query_one(
            "SELECT 1 FROM billing_accounts WHERE property_id = ? AND billing_account_id = ?",
            (property_id, billing_account_id),
        )
        is not None
    )


def ledger(
    store: SandboxStore, property_id: str, billing_account_id: str, posted_since: str
) -> list[dict[str, Any]]:
    """One billing account's ledger since a moment (v2 `/Transactions/Ledger`): `reference` and
    `method` on payment rows only, `dateReversed` on reversed rows only, no category on the
    rows that reverse others (live-verified keys)."""
    if not account_exists(store, property_id, billing_account_id):
        return []
    out = []
    # By account alone: the account index answers it (an account is in one property).
    for t in _transaction_rows(
        store,
        "t.billing_account_id = ? AND t.modified_at >= ?",
        (billing_account_id, posted_since),
    ):
        row: dict[str, Any] = {
            "transactionId": t["transaction_id"],
            "date": t["date"],
            "type": t["type"],
            "category": None
            if t["category_id"] is None
            else {
                "transactionCategoryId": t["category_id"],
                "name": t["category_name"],
                "abbreviation": t["abbreviation"],
            },
            "description": t["description"],
            "amount": money(t["amount_cents"]),
        }
        if t["type"] == "Payment":
            row["reference"] = t["reference"] or ""
            row["method"] = t["payment_method"] or "Other"
        if t["date_reversed"]:
            row["dateReversed"] = t["date_reversed"]
        out.append(row)
    return out


def staff_ledger(store: SandboxStore, lease_id: str) -> list[dict[str, Any]]:
    """A lease's whole ledger, for the control plane (what a manager sees on screen)."""
    return [
        {
            "transaction_id": t["transaction_id"],
            "date": t["date"],
            "type": t["type"],
            "charge_code": t["abbreviation"],
            "description": t["description"],
            "reference": t["reference"],
            "amount": money(t["amount_cents"]),
            "date_reversed": t["date_reversed"],
        }
        for t in _transaction_rows(store, "t.lease_id = ?", (lease_id,))
    ]


# ------------------------------------------------------------------------------ MITS reads
def resident_accounts(store: SandboxStore, property_id: str) -> list[dict[str, Any]]:
    """Every lease of a property with people, unit and posted transactions (for MITS replies)."""
    rows = _lease_rows(store, LeaseQuery(property_id))
    people = _people_by_lease(store, [r["lease_id"] for r in rows])
    unit_rows = {u["unit_id"]: u for u in _unit_rows(store, property_id)}
    by_lease: dict[str, list[Any]] = defaultdict(list)
    for tx in _transaction_rows(
        store, "t.property_id = ? AND t.lease_id IS NOT NULL", (property_id,)
    ):
        by_lease[tx["lease_id"]].append(tx)
    return [
        {
            "lease": r,
            "unit": unit_rows[r["unit_id"]],
            "people": people[r["lease_id"]],
            "transactions": by_lease[r["lease_id"]],
        }
        for r in rows
    ]


def unit_status(store: SandboxStore, property_id: str) -> dict[str, tuple[str, str]]:
    """Each unit's MITS occupancy and leased status (`occupied`/`vacant`,
    `leased`/`on_notice`/`available`), from its leases."""
    statuses: dict[str, set[str]] = defaultdict(set)
    for r in store.query(
        "SELECT unit_id, status FROM leases WHERE property_id = ?", (property_id,)
    ):
        statuses[r["unit_id"]].add(r["status"])
    out = {}
    for u in store.query("SELECT unit_id FROM units WHERE property_id = ?", (property_id,)):
        seen = statuses[u["unit_id"]]
        occupied = bool(seen & IN_RESIDENCE)
        if "Notice to Vacate" in seen and "Pending" not in seen:
            leased = "on_notice"
        elif occupied or "Pending" in seen:
            leased = "leased"
        else:
            leased = "available"
        out[u["unit_id"]] = ("occupied" if occupied else "vacant", leased)
    return out


def marketing(store: SandboxStore, property_id: str) -> dict[str, Any]:
    """The property, its floor plans (unit types) with their units, and its fee schedule."""
    plans = store.query(
        "SELECT * FROM unit_types WHERE property_id = ? ORDER BY name", (property_id,)
    )
    return {
        "property": property_row(store, property_id),
        "floor_plans": plans,
        "units": _unit_rows(store, property_id),
        "unit_status": unit_status(store, property_id),
        "fees": store.query(
            "SELECT * FROM fees WHERE property_id = ? ORDER BY abbreviation, floor_plan",
            (property_id,),
        ),
    }
