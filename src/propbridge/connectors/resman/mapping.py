"""ResMan v2 JSON → propbridge records. Pure functions, no I/O.

Assumptions (reference/resman-api.md §2.3) kept as found: transaction categories are
account-wide, so each is copied into every property as that property's charge code; a lease's
people are its residents; the `isMainContact` person is the primary resident.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from propbridge.connectors.base import RecordData
from propbridge.connectors.resman.amounts import dollars_to_cents
from propbridge.connectors.resman.xml_safety import child_text, local_name

LEASE_STATUS = {
    "current": "ACTIVE",
    "notice to vacate": "ACTIVE",
    "month to month": "ACTIVE",
    "under eviction": "ACTIVE",
    "pending": "PENDING",
    "approved": "PENDING",
    "pending renewal": "PENDING",
    "applicant": "PENDING",
    "former": "INACTIVE",
    "cancelled": "INACTIVE",
    "canceled": "INACTIVE",
    "denied": "INACTIVE",
    "expired": "INACTIVE",
    "evicted": "EVICTED",
}
PROPERTY_TYPE = {
    "multifamily": "MULTI_FAMILY",
    "multi-family": "MULTI_FAMILY",
    "single family": "SINGLE_FAMILY",
    "student": "STUDENT_HOUSING",
    "student housing": "STUDENT_HOUSING",
    "commercial": "COMMERCIAL",
}
STATUS_PREFERENCE = {"ACTIVE": 0, "PENDING": 1, "OTHER": 2, "EVICTED": 3, "INACTIVE": 4}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _lower_guid(value: Any) -> str:
    return str(value).strip().lower()


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
    """A v2 `/Properties` item."""
    pid = _lower_guid(item["propertyId"])
    type_raw = _text(item.get("type"))
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
            "manager_name": _text(item.get("manager")),
            "manager_email": None,
            "manager_phone_1": None,
            "type_raw": type_raw,
            "type_normalized": PROPERTY_TYPE.get(type_raw.lower(), "OTHER") if type_raw else None,
            "number_of_units": None,
        },
        item,
    )


def map_charge_code(item: dict[str, Any], x_property_id: str) -> RecordData:
    """A v2 transaction category, as the charge code of one property."""
    gl = item.get("glAccount") or {}
    return RecordData(
        "charge_codes",
        _lower_guid(item["transactionCategoryId"]),
        x_property_id,
        {
            "code": _text(item.get("abbreviation")),
            "kind": _text(item.get("type")),
            "name": _text(item.get("name")),
            "description": None,
            "debit_gl_account": None,
            "credit_gl_account": _text(gl.get("number")),
        },
        item,
    )


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
            "start_date": _text(item.get("leaseStartDate")),
            "end_date": _text(item.get("leaseEndDate")),
            "realized_move_in_date": _text(item.get("moveInDate")),
            "realized_move_out_date": _text(item.get("moveOutDate")),
            "status_raw": _text(item.get("leaseStatus")),
            "status_normalized": lease_status(item.get("leaseStatus")),
        },
        raw,
    )


def _role(person: dict[str, Any]) -> tuple[str, str]:
    if person.get("isMainContact") or person.get("isHeadOfHousehold"):
        return "Head of Household", "PRIMARY"
    if person.get("isLeaseSigner"):
        return "Lease Signer", "SECONDARY"
    return "Occupant", "OTHER"


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
                    "move_in_date": _text(lease.get("moveInDate")),
                    "move_out_date": _text(lease.get("moveOutDate")),
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
        records.append(
            RecordData(
                "residents",
                person_id,
                x_property_id,
                {
                    "x_lease_id": chosen["lease_x_id"],
                    "first_name": _text(person.get("firstName")),
                    "middle_name": None,
                    "last_name": _text(person.get("lastName")),
                    "email_1": _text(person.get("email")),
                    "phone_1": normalise_phone(person.get("phone")),
                    "phone_1_type": None,
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


def map_account_transactions(account: dict[str, Any], x_property_id: str) -> list[RecordData]:
    """A v2 billing account's transactions as resident charges (credits negative) and payments.

    Deposits are not resident charges or payments and are left out. `paymentMethod` on payments
    is an assumption of the sandbox (ResMan's v2 payment-method vocabulary); it may be absent.
    """
    records = []
    lease = _text(account.get("leaseID"))
    for tx in account.get("transactions") or []:
        kind = _text(tx.get("type"))
        if kind not in ("Charge", "Credit", "Payment"):
            continue
        cents = dollars_to_cents(tx.get("amount") or 0)
        date = _text(tx.get("date"))
        fields: dict[str, Any] = {
            "x_lease_id": lease.lower() if lease else None,
            "x_resident_id": _lower_guid(account["personId"]) if account.get("personId") else None,
            "x_billing_account_id": _text(account.get("billingAccountId")),
            "x_charge_code_id": _lower_guid(tx["trasactionCategoryId"])
            if tx.get("trasactionCategoryId")
            else None,
            "amount_in_cents": -abs(cents) if kind == "Credit" else cents,
            "amount_raw": _text(tx.get("amount")),
            "name": None,
            "description": _text(tx.get("description")),
            "reference_number": _text(tx.get("reference")),
            "transaction_date": date[:10] if date else None,
            "post_month": date[:7] if date else None,
            "transaction_type": kind,
        }
        model = "resident_payments" if kind == "Payment" else "resident_charges"
        if model == "resident_payments":
            method = _text(tx.get("paymentMethod"))
            fields["payment_method_raw"] = method
            fields["payment_method_normalized"] = method if method in PAYMENT_METHODS else None
        records.append(
            RecordData(
                model,
                _lower_guid(tx["id"]),
                x_property_id,
                fields,
                tx,
                links={
                    "lease": fields["x_lease_id"],
                    "resident": fields["x_resident_id"],
                    "charge_code": fields["x_charge_code_id"],
                },
            )
        )
    return records


def map_fees(document: Any, x_property_id: str) -> list[RecordData]:
    """Fee schedule entries of a MITS marketing document (`Fees/Fee`, matched by local names)."""
    records = []
    for element in document.iter():
        if not isinstance(element.tag, str) or local_name(element) != "Fee":
            continue
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


def map_floor_plans(document: Any, x_property_id: str) -> list[RecordData]:
    """Floor plans of a MITS marketing document (`Floorplan`, matched by local names)."""
    records = []
    for element in _elements(document, "Floorplan"):
        code = _text(element.get("IDValue"))
        if code is None:
            continue
        rooms = {
            (room.get("RoomType") or "").lower(): _text(room.text)
            for room in element
            if isinstance(room.tag, str) and local_name(room) == "Room"
        }
        sizes = next(iter(_elements(element, "SquareFeet")), None)
        rents = next(iter(_elements(element, "MarketRent")), None)
        rent_min = _text(rents.get("Min")) if rents is not None else None
        rent_max = _text(rents.get("Max")) if rents is not None else None
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
                    "rentable_square_feet": _int(sizes.get("Max")) if sizes is not None else None,
                    "rent_minimum_in_cents": dollars_to_cents(rent_min) if rent_min else None,
                    "rent_maximum_in_cents": dollars_to_cents(rent_max) if rent_max else None,
                    "unit_count": _int(child_text(element, "UnitCount")),
                },
                {
                    "IDValue": code,
                    "Rooms": rooms,
                    "MarketRent": [rent_min, rent_max],
                    **{
                        local_name(c): c.text
                        for c in element
                        if isinstance(c.tag, str) and local_name(c) in ("Name", "UnitCount")
                    },
                },
            )
        )
    return records


def map_unit(item: dict[str, Any], x_property_id: str) -> RecordData | None:
    """A v1 `Property/GetUnits` item (its `Units/Unit` element as a dict of child texts).

    `UnitID` is assumed (ResMan documents the number, not the id; v2 leases name units by
    `unitId`); without it the unit number is the id. `UnitType` is taken as the floor plan code.
    """
    x_id = _text(item.get("UnitID")) or _text(item.get("UnitNumber"))
    if x_id is None:
        return None
    rent = _text(item.get("MarketRent"))
    plan = _text(item.get("UnitType"))
    return RecordData(
        "units",
        x_id.lower(),
        x_property_id,
        {
            "number": _text(item.get("UnitNumber")),
            "x_floor_plan_id": plan,
            "floor_plan_code": plan,
            "bedrooms": _text(item.get("Bedrooms")),
            "bathrooms": _text(item.get("Bathrooms")),
            "building_name": _text(item.get("Building")),
            "floor": _text(item.get("Floor")),
            "street_address_1": _text(item.get("StreetAddress")),
            "city": _text(item.get("City")),
            "state": _text(item.get("State")),
            "zip": _text(item.get("Zip")),
            "square_feet": _int(item.get("SquareFeet")),
            "rent_amount_market_in_cents": dollars_to_cents(rent) if rent else None,
        },
        item,
        links={"floor_plan": plan},
    )


def map_units(document: Any, x_property_id: str) -> list[RecordData]:
    """Units of a `Property/GetUnits` reply."""
    records = []
    for element in _elements(document, "Unit"):
        item = {local_name(c): c.text for c in element if isinstance(c.tag, str)}
        record = map_unit(item, x_property_id)
        if record is not None:
            records.append(record)
    return records
