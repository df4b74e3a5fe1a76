"""ResMan's answers → propbridge records. Pure functions, no I/O.

The keys read here are live ResMan's (tests/contracts/resman_v2.json, from a client reconciled
field by field against live responses, and the v1 shapes other integrators' production code
reads); the contract tests hold this module to that file. Decisions of ours, kept as found:
transaction categories are account-wide, so each is copied into every property as that
property's charge code; a lease's people are its residents; its main contact is the primary one.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from propbridge.connectors.base import RecordData
from propbridge.connectors.resman.amounts import dollars_to_cents
from propbridge.connectors.resman.xml_safety import child_text, find_child, local_name

# ResMan's LeaseStatus list (live-verified) → Propexo's `status_normalized`.
LEASE_STATUS = {
    "current": "ACTIVE",
    "notice to vacate": "ACTIVE",
    "month to month": "ACTIVE",
    "under eviction": "ACTIVE",
    "pending": "PENDING",
    "pending renewal": "PENDING",
    "pending transfer": "PENDING",
    "former": "INACTIVE",
    "cancelled": "INACTIVE",
    "denied": "INACTIVE",
    # Renewed: this term was replaced by its renewal, which is the live lease.
    "renewed": "INACTIVE",
    "evicted": "EVICTED",
}
# ResMan's PropertyType list (live-verified) → Propexo's `type_normalized`.
PROPERTY_TYPE = {
    "multi-family": "MULTI_FAMILY",
    "student": "STUDENT_HOUSING",
    "single family": "SINGLE_FAMILY",
    "condo": "MULTI_FAMILY",
    "affordable combo": "MULTI_FAMILY",
    "tax credit": "MULTI_FAMILY",
    "hud": "MULTI_FAMILY",
    "rural development": "MULTI_FAMILY",
    "commercial": "COMMERCIAL",
}
STATUS_PREFERENCE = {"ACTIVE": 0, "PENDING": 1, "OTHER": 2, "EVICTED": 3, "INACTIVE": 4}
# A person's `phoneType` → Propexo's phone types (ResMan's list of phone types is not public;
# anything else is OTHER).
PHONE_TYPES = {"mobile": "MOBILE", "cell": "MOBILE", "home": "HOME", "work": "WORK", "fax": "FAX"}
# The payment methods Propexo's clients know; ResMan's others (AvidPay, ETF, Wire, …) are kept
# raw only.
PAYMENT_METHODS = (
    "ACH",
    "Cash",
    "Cashiers Check",
    "Check",
    "Credit Card",
    "Debit Card",
    "eCheck",
    "Money Order",
)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _lower_guid(value: Any) -> str:
    return str(value).strip().lower()


def _day(value: Any) -> str | None:
    """The calendar date of a ResMan date or date-time string."""
    text = _text(value)
    return text[:10] if text else None


def _cents(value: Any) -> int | None:
    return None if value is None else dollars_to_cents(value)


def normalise_phone(value: Any) -> str | None:
    """US numbers as ten digits (Propexo's `phone_1` filter format); others kept as given."""
    text = _text(value)
    if text is None:
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) == 10 else text


def lease_status(raw: Any) -> str | None:
    """ResMan's lease status → Propexo's `status_normalized`."""
    text = _text(raw)
    return None if text is None else LEASE_STATUS.get(text.lower(), "OTHER")


def map_property(item: dict[str, Any]) -> RecordData:
    """A v2 `/Properties` item. `manager` is always null live; the manager is the management
    team member whose role names one."""
    pid = _lower_guid(item["propertyId"])
    type_raw = _text(item.get("type"))
    managers = [
        m for m in item.get("managementTeam") or [] if "manager" in str(m.get("role", "")).lower()
    ]
    manager = _text(item.get("manager")) or (
        _text(f"{managers[0].get('firstName', '')} {managers[0].get('lastName', '')}")
        if managers
        else None
    )
    return RecordData(
        "properties",
        pid,
        pid,
        {
            "name": _text(item.get("name")),
            "code": _text(item.get("abbreviation")),
            "address_1": _text(item.get("streetAddress")),
            "address_2": None,
            "city": _text(item.get("city")),
            "state": _text(item.get("state")),
            "zip": _text(item.get("zip")),
            "country": None,
            "is_active": None,
            "manager_name": manager,
            "manager_email": None,
            "manager_phone_1": None,
            "type_raw": type_raw,
            "type_normalized": PROPERTY_TYPE.get(type_raw.lower(), "OTHER") if type_raw else None,
            "number_of_units": None,
        },
        item,
    )


def map_charge_code(item: dict[str, Any], x_property_id: str) -> RecordData:
    """A v2 transaction category, as the charge code of one property; its ResMan type
    (Charge, Credit, Payment, Deposit) is `category_type`."""
    gl = item.get("glAccount") or {}
    return RecordData(
        "charge_codes",
        _lower_guid(item["transactionCategoryId"]),
        x_property_id,
        {
            "code": _text(item.get("abbreviation")),
            "category_type": _text(item.get("type")),
            "name": _text(item.get("name")),
            "description": None,
            "debit_gl_account": None,
            "credit_gl_account": _text(gl.get("number")),
        },
        item,
    )


def _rent(item: dict[str, Any]) -> int | None:
    """A lease's rent: its own term in `history` (asked for with `includeLeaseHistory`)."""
    lease_id = _text(item.get("leaseId"))
    for term in item.get("history") or []:
        if _text(term.get("leaseId")) == lease_id and term.get("rent") is not None:
            return dollars_to_cents(term["rent"])
    return None


def map_lease(item: dict[str, Any]) -> RecordData:
    """A v2 `/Leasing/Leases` item (without its people)."""
    raw = {k: v for k, v in item.items() if k != "people"}
    raw["personIds"] = [_lower_guid(p["personId"]) for p in item.get("people") or []]
    return RecordData(
        "leases",
        _lower_guid(item["leaseId"]),
        _lower_guid(item["propertyId"]),
        {
            "x_unit_id": _text(item.get("unitId")),
            "x_billing_account_id": _text(item.get("billingAccountId")),
            "unit_number": _text(item.get("unitNumber")),
            "application_date": _day(item.get("applicationDate")),
            "signature_date": _day(item.get("leaseSignedDate")),
            "start_date": _day(item.get("leaseStartDate")),
            "end_date": _day(item.get("leaseEndDate")),
            "scheduled_move_in_date": _day(item.get("scheduledMoveInDate")),
            "realized_move_in_date": _day(item.get("moveInDate")),
            "scheduled_move_out_date": _day(item.get("scheduledMoveOutDate")),
            "realized_move_out_date": _day(item.get("moveOutDate")),
            "rent_amount_in_cents": _rent(item),
            "status_raw": _text(item.get("leaseStatus")),
            "status_normalized": lease_status(item.get("leaseStatus")),
        },
        raw,
    )


def _role(person: dict[str, Any]) -> tuple[str, str]:
    """ResMan's household status (raw) and Propexo's resident type."""
    if person.get("isGuarantor"):
        normalised = "GUARANTOR"
    elif person.get("isMainContact") or person.get("isHeadOfHousehold"):
        normalised = "PRIMARY"
    elif person.get("isLeaseSigner"):
        normalised = "SECONDARY"
    else:
        normalised = "OTHER"
    return _text(person.get("householdStatus")) or normalised.title(), normalised


def map_residents(leases: list[dict[str, Any]]) -> list[RecordData]:
    """The people of a property's leases, one record per person, linked to each of their leases.

    `x_lease_id` is the lease writes post to: an active one first, then the latest start.
    """
    people: dict[tuple[str, str], dict[str, Any]] = {}
    links: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for lease in leases:
        x_property_id = _lower_guid(lease["propertyId"])
        for person in lease.get("people") or []:
            key = (x_property_id, _lower_guid(person["personId"]))
            people.setdefault(key, person)
            x_type, normalised = _role(person)
            links.setdefault(key, []).append(
                {
                    "lease_x_id": _lower_guid(lease["leaseId"]),
                    "x_resident_type": x_type,
                    "resident_type_normalized": normalised,
                    "move_in_date": _day(person.get("moveInDate") or lease.get("moveInDate")),
                    "move_out_date": _day(person.get("moveOutDate") or lease.get("moveOutDate")),
                    "notice_date": _day(lease.get("noticeToVacateDate")),
                    "status": lease_status(lease.get("leaseStatus")) or "OTHER",
                    "start": _text(lease.get("leaseStartDate")) or "",
                }
            )
    records = []
    for (x_property_id, person_id), person in people.items():
        person_links = links[(x_property_id, person_id)]
        chosen = sorted(
            person_links,
            key=lambda link: (STATUS_PREFERENCE.get(link["status"], 5), _reverse(link["start"])),
        )[0]
        phone_type = _text(person.get("phoneType"))
        records.append(
            RecordData(
                "residents",
                person_id,
                x_property_id,
                {
                    "x_lease_id": chosen["lease_x_id"],
                    "first_name": _text(person.get("firstName")),
                    "middle_name": _text(person.get("middleName")),
                    "last_name": _text(person.get("lastName")),
                    "email_1": _text(person.get("email")),
                    "phone_1": normalise_phone(person.get("phone")),
                    "phone_1_type": PHONE_TYPES.get(phone_type.lower(), "OTHER")
                    if phone_type
                    else None,
                },
                person,
                links={
                    "leases": [
                        {k: v for k, v in link.items() if k not in ("status", "start")}
                        for link in person_links
                    ]
                },
            )
        )
    return records


def _reverse(text: str) -> str:
    """Sort key that puts later ISO dates first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


# What an account's `/Transactions/Ledger` row adds to its billing-account transaction.
LEDGER_EXTRAS = ("method", "dateReversed")


def needs_ledger(account: dict[str, Any]) -> bool:
    """Whether an account's ledger must be read too: only the ledger says how a payment was
    made (`method`) and which rows were reversed (`dateReversed`); a billing account's own
    transactions say neither."""
    return any(
        tx.get("type") == "Payment" or tx.get("transactionCategoryId") is None
        for tx in account.get("transactions") or []
    )


def is_reversal(tx: dict[str, Any], ledger_row: dict[str, Any] | None) -> bool:
    """A row that undoes another: no category, and a negative amount.

    Live-verified: reversals carry no category. Assumed (no capture of one): their amount is
    negative, so that a row merely lacking a category still counts."""
    no_category = tx.get("transactionCategoryId") is None and (
        ledger_row is None or ledger_row.get("category") is None
    )
    return no_category and Decimal(str(tx.get("amount") or 0)) < 0


def map_account_transactions(
    account: dict[str, Any],
    x_property_id: str,
    ledger: list[dict[str, Any]] | None = None,
) -> list[RecordData]:
    """A v2 billing account's transactions as resident charges (credits negative) and payments,
    completed from the account's `/Transactions/Ledger` rows (matched by id) when given.

    Deposits are not resident charges or payments and are left out; so are the rows that
    reverse another (the reversed row is kept, with `reversed_date`, and served as such)."""
    by_id = {_lower_guid(row["transactionId"]): row for row in ledger or []}
    lease = _text(account.get("leaseID"))
    x_lease_id = lease.lower() if lease else None
    x_resident_id = _lower_guid(account["personId"]) if account.get("personId") else None
    records = []
    for tx in account.get("transactions") or []:
        kind = _text(tx.get("type"))
        if kind not in ("Charge", "Credit", "Payment"):
            continue
        x_id = _lower_guid(tx["id"])
        line = by_id.get(x_id)
        if is_reversal(tx, line):
            continue
        fields = _transaction_fields(account, tx, line, kind, x_lease_id, x_resident_id)
        records.append(
            RecordData(
                "resident_payments" if kind == "Payment" else "resident_charges",
                x_id,
                x_property_id,
                fields,
                # Only what the ledger adds, so that a row read without its ledger (an account
                # with no new payment) hashes the same as before.
                {**tx, **{k: line[k] for k in LEDGER_EXTRAS if line and k in line}},
                links={
                    "lease": x_lease_id,
                    "resident": x_resident_id,
                    "charge_code": fields["x_charge_code_id"],
                },
            )
        )
    return records


def _transaction_fields(
    account: dict[str, Any],
    tx: dict[str, Any],
    line: dict[str, Any] | None,
    kind: str,
    x_lease_id: str | None,
    x_resident_id: str | None,
) -> dict[str, Any]:
    """A ledger transaction's columns (a payment's method from its ledger row)."""
    cents = dollars_to_cents(tx.get("amount") or 0)
    date = _day(tx.get("date"))
    category = _text(tx.get("transactionCategoryId"))
    fields: dict[str, Any] = {
        "x_lease_id": x_lease_id,
        "x_resident_id": x_resident_id,
        "x_billing_account_id": _text(account.get("billingAccountId")),
        "x_charge_code_id": category.lower() if category else None,
        "amount_in_cents": -abs(cents) if kind == "Credit" else cents,
        "amount_raw": _text(tx.get("amount")),
        "name": None,
        "description": _text(tx.get("description")),
        "reference_number": _text(tx.get("reference")),
        "transaction_date": date,
        "post_month": date[:7] if date else None,
        "transaction_type": kind,
        "reversed_date": _day(line.get("dateReversed")) if line else None,
    }
    if kind == "Payment":
        method = _text(line.get("method")) if line else None
        fields["payment_method_raw"] = method
        fields["payment_method_normalized"] = method if method in PAYMENT_METHODS else None
    return fields


# ---------------------------------------------------------------------------- v1 (MITS)
def map_fees(document: Any, x_property_id: str) -> list[RecordData]:
    """Fee schedule entries of a MITS marketing document (`Fees/Fee`, an assumed shape, matched
    by local names)."""
    records = []
    for element in _elements(document, "Fee"):
        fee_id = _text(element.get("FeeID"))
        if fee_id is None:
            continue
        amount = _text(child_text(element, "Amount"))
        code = _text(element.get("ChargeCode"))
        records.append(
            RecordData(
                "fees",
                fee_id.lower(),
                x_property_id,
                {
                    "x_floor_plan_id": _text(element.get("FloorplanID")),
                    "x_unit_id": None,
                    "amount_in_cents": dollars_to_cents(amount) if amount else None,
                    "amount_raw": amount,
                    "name": _text(child_text(element, "Name")),
                    "description": _text(child_text(element, "Description")),
                    "frequency": _text(child_text(element, "Frequency")),
                    "charge_code_code": code,
                },
                {
                    "FeeID": fee_id,
                    "ChargeCode": code,
                    "FloorplanID": element.get("FloorplanID"),
                    **{local_name(c): c.text for c in element if isinstance(c.tag, str)},
                },
                links={"charge_code_code": code},
            )
        )
    return records


def _int(value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(Decimal(text))
    except (InvalidOperation, ValueError):
        return None


def _elements(document: Any, name: str) -> list[Any]:
    return [e for e in document.iter() if isinstance(e.tag, str) and local_name(e) == name]


def _attribute_cents(element: Any | None, name: str) -> int | None:
    value = _text(element.get(name)) if element is not None else None
    return dollars_to_cents(value) if value else None


def map_floor_plans(document: Any, x_property_id: str) -> list[RecordData]:
    """Floor plans of a `MITS/GetMarketing4_0` document, read as integrators' production code
    reads them [OBSERVED: Lucky-dev1085/DWELL-CRM]: `Floorplan/@IDValue`, `UnitsAvailable`,
    `Room[@RoomType]/Count`, `SquareFeet@Avg`, `EffectiveRent@Min/@Max`, `File/Src`. `Name` and
    `UnitCount` are MITS 4.0's names, assumed."""
    records = []
    for element in _elements(document, "Floorplan"):
        code = _text(element.get("IDValue"))
        if code is None:
            continue
        rooms = {
            (room.get("RoomType") or "").lower(): _text(child_text(room, "Count"))
            for room in element
            if isinstance(room.tag, str) and local_name(room) == "Room"
        }
        size = find_child(element, "SquareFeet")
        rent = find_child(element, "EffectiveRent")
        images = [
            src
            for file in element
            if isinstance(file.tag, str) and local_name(file) == "File"
            for src in [_text(child_text(file, "Src"))]
            if src
        ]
        records.append(
            RecordData(
                "floor_plans",
                code,
                x_property_id,
                {
                    "name": _text(child_text(element, "Name")),
                    "code": code,
                    "bedrooms": _int(rooms.get("bedroom")),
                    "bathrooms": rooms.get("bathroom"),
                    "rentable_square_feet": _int(size.get("Avg")) if size is not None else None,
                    "rent_minimum_in_cents": _attribute_cents(rent, "Min"),
                    "rent_maximum_in_cents": _attribute_cents(rent, "Max"),
                    "unit_count": _int(child_text(element, "UnitCount")),
                    "image_urls": images,
                },
                {
                    "IDValue": code,
                    "Rooms": rooms,
                    "SquareFeet": dict(size.attrib) if size is not None else None,
                    "EffectiveRent": dict(rent.attrib) if rent is not None else None,
                    "Files": images,
                    **{
                        local_name(c): c.text
                        for c in element
                        if isinstance(c.tag, str)
                        and local_name(c) in ("Name", "UnitCount", "UnitsAvailable")
                    },
                },
            )
        )
    return records


# ---------------------------------------------------------------------------- v2 units
def map_unit(item: dict[str, Any]) -> RecordData:
    """A v2 `/Units` item. Its `unitType` is taken to be the marketing floor plan's `IDValue`:
    ResMan's MITS replies give the same value as a unit's `UnitType` and `FloorPlanID`
    (resman-samples) and integrators key floor plans by it (DWELL-CRM) [INFERRED]."""
    plan = _text(item.get("unitType"))
    return RecordData(
        "units",
        _lower_guid(item["unitId"]),
        _lower_guid(item["propertyId"]),
        {
            "number": _text(item.get("unitNumber")),
            "x_floor_plan_id": plan,
            "x_unit_type_id": _text(item.get("unitTypeId")),
            "floor_plan_code": plan,
            "building_name": _text(item.get("building")),
            "floor": _text(item.get("floor")),
            "street_address_1": _text(item.get("streetAddress")),
            "city": _text(item.get("city")),
            "state": _text(item.get("state")),
            "zip": _text(item.get("zip")),
            "square_feet": _int(item.get("squareFeet")),
            "rent_amount_market_in_cents": _cents(item.get("marketRent")),
            "is_listed": item.get("availableForOnlineMarketing"),
        },
        item,
        links={"floor_plan": plan},
    )
