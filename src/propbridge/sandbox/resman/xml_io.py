"""ResMan's XML: the `<ResMan>` envelope, MITS ResidentTransactions replies, hardened parsing.

Pure functions over lxml trees; no store and no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree

MITS_NS = "http://my-company.com/namespace"
M = f"{{{MITS_NS}}}"


class UnsafeXmlError(ValueError):
    """The document declares a DTD or entities, which ResMan's sandbox refuses outright."""


def parse_untrusted(text: str | bytes) -> Any:
    """Parse XML with entity expansion, DTD loading and network access all off."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
    )
    data = text.encode() if isinstance(text, str) else text
    root = etree.fromstring(data, parser)
    if _doctype(root):
        raise UnsafeXmlError("DOCTYPE declarations are not allowed")
    return root


def local(element: Any) -> str:
    """An element's name without namespace."""
    return str(etree.QName(element).localname)


def child_text(element: Any, name: str) -> str | None:
    """Text of the first direct child with this local name (any namespace)."""
    for child in element:
        if isinstance(child.tag, str) and local(child) == name:
            return str(child.text or "")
    return None


def envelope(
    method: str,
    account_id: str,
    property_id: str | None,
    status: str = "Success",
    error: str | None = None,
    response: Any | None = None,
) -> bytes:
    """The `<ResMan>` reply every v1 method gives when XML is wanted."""
    root = etree.Element(
        "ResMan",
        nsmap={
            "xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsd": "http://www.w3.org/2001/XMLSchema",
        },
    )
    etree.SubElement(root, "MethodName").text = method
    etree.SubElement(root, "Status").text = status
    if error is not None:
        etree.SubElement(root, "ErrorDescription").text = error
    etree.SubElement(root, "AccountID").text = account_id
    if property_id is not None:
        etree.SubElement(root, "PropertyID").text = property_id
    if response is not None:
        wrapper = etree.SubElement(root, "Response")
        wrapper.append(response)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def dict_to_xml(tag: str, value: Any) -> Any:
    """A JSON-like value as XML elements (lists repeat the singular child)."""
    element = etree.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(dict_to_xml(key, item))
    elif isinstance(value, list):
        singular = tag[:-3] + "y" if tag.endswith("ies") else tag.rstrip("s")
        for item in value:
            element.append(dict_to_xml(singular, item))
    elif value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)
    return element


def _mits(parent: Any, name: str, text: str | None = None, **attributes: str) -> Any:
    element = etree.SubElement(parent, M + name, attributes)
    if text is not None:
        element.text = text
    return element


def _plain(parent: Any, name: str, text: str | None = None, **attributes: str) -> Any:
    element = etree.SubElement(parent, name, attributes)
    if text is not None:
        element.text = text
    return element


def dollars(cents: int) -> str:
    """Whole cents as ResMan's two-place dollars."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _address(parent: Any, prop: Any, unit_number: str | None, email: str | None = None) -> None:
    address = _mits(parent, "Address", Type="property")
    if email is not None:
        _mits(address, "Description", "")
    _mits(address, "Address1", prop["street"])
    if unit_number is not None:
        _mits(address, "Address2", unit_number)
    _mits(address, "City", prop["city"])
    _mits(address, "State", prop["state"])
    _mits(address, "PostalCode", prop["zip"])
    if email is not None:
        _mits(address, "Email", email)


PHONE_TYPES = {"Mobile": "cell", "Home": "home", "Work": "office"}


def _rt_person(people: Any, prop: Any, lease: Any, unit: Any, person: Any) -> None:
    """One person of an account, with their lease (MITS `Customer`)."""
    kind = {"Former": "former resident", "Pending": "future resident"}.get(
        lease["status"], "current resident"
    )
    person_el = _plain(people, "Customer", Type=kind)
    _mits(person_el, "Description", "")
    _plain(person_el, "CustomerID", person["person_id"])
    mprop = _mits(person_el, "Property")
    _mits(mprop, "PrimaryID", prop["property_id"])
    _mits(mprop, "MarketingName", prop["name"])
    _mits(mprop, "UnitID", unit["unit_number"])
    name = _mits(person_el, "Name")
    _mits(name, "FirstName", person["first_name"])
    _mits(name, "MiddleName", person["middle_name"])
    _mits(name, "LastName", person["last_name"])
    _address(person_el, prop, unit["unit_number"], person["email"] or "")
    if person["phone"]:
        phone = _mits(person_el, "Phone", Type=PHONE_TYPES.get(person["phone_type"], "cell"))
        _mits(phone, "PhoneNumber", person["phone"])
    mlease = _mits(person_el, "Lease")
    _mits(mlease, "CurrentRent", dollars(lease["rent_cents"]))
    _mits(mlease, "ExpectedMoveInDate", lease["scheduled_move_in_date"])
    if lease["scheduled_move_out_date"]:
        _mits(mlease, "ExpectedMoveOutDate", lease["scheduled_move_out_date"])
    _mits(mlease, "LeaseFromDate", lease["start_date"])
    _mits(mlease, "LeaseToDate", lease["end_date"])
    if lease["move_in_date"]:
        _mits(mlease, "ActualMoveIn", lease["move_in_date"])
    if lease["move_out_date"]:
        _mits(mlease, "ActualMoveOut", lease["move_out_date"])
    _mits(mlease, "ResponsibleForLease", "true" if person["is_lease_signer"] else "false")
    if lease["lease_signed_date"]:
        _mits(mlease, "LeaseSignDate", lease["lease_signed_date"])


def _rt_unit(
    customer: Any, prop: Any, account: Any, unit_status: dict[str, tuple[str, str]]
) -> None:
    """An account's unit and its state (`RT_Unit`)."""
    unit = account["unit"]
    occupancy, leased = unit_status.get(unit["unit_id"], ("vacant", "available"))
    rt_unit = _plain(customer, "RT_Unit")
    _plain(rt_unit, "UnitID", unit["unit_number"])
    _plain(rt_unit, "NumberOccupants", Total=str(len(account["people"])))
    unit_el = _plain(rt_unit, "Unit")
    info = _mits(unit_el, "Information")
    _mits(info, "UnitID", unit["unit_number"])
    _mits(info, "UnitType", unit["unit_type"])
    _mits(info, "UnitBedrooms", str(unit["bedrooms"]))
    _mits(info, "UnitBathrooms", unit["bathrooms"])
    _mits(info, "MinSquareFeet", str(unit["square_feet"]))
    _mits(info, "MaxSquareFeet", str(unit["square_feet"]))
    _mits(info, "MarketRent", dollars(unit["market_rent_cents"]))
    _mits(info, "UnitEconomicStatus", "residential")
    _mits(info, "UnitOccupancyStatus", occupancy)
    _mits(info, "UnitLeasedStatus", leased)
    _mits(info, "FloorPlanID", unit["unit_type"])
    _mits(info, "FloorplanName", unit["unit_type_description"])
    _mits(info, "BuildingID", unit["building"].rpartition(" ")[2])
    _address(info, prop, unit["unit_number"])
    _mits(unit_el, "PropertyPrimaryID", prop["property_id"])
    _mits(unit_el, "MarketingName", prop["name"])


def _rt_transactions(customer: Any, lease: Any, unit: Any, transactions: Any) -> None:
    """An account's live transactions (`RTServiceTransactions`)."""
    live = [t for t in transactions if t["category_id"] and not t["date_reversed"]]
    if not live:
        return
    service = _plain(customer, "RTServiceTransactions")
    for tx in live:
        wrapper = _plain(service, "Transactions")
        if tx["type"] == "Payment":
            element = _plain(wrapper, "Payment", Type="Other")
        elif tx["type"] == "Credit":
            element = _plain(wrapper, "Concession")
        else:
            element = _plain(wrapper, "Charge")
        detail = _plain(element, "Detail")
        _plain(detail, "TransactionDate", tx["date"])
        _plain(detail, "Description", tx["description"] or "")
        if tx["type"] == "Payment":
            _plain(detail, "DocumentNumber", tx["reference"] or "")
        _plain(detail, "ChargeCode", tx["abbreviation"])
        _plain(detail, "GLAccountNumber", tx["gl_number"])
        _plain(detail, "CustomerID", lease["lease_id"])
        _plain(detail, "UnitID", unit["unit_number"])
        _plain(detail, "Amount", dollars(tx["amount_cents"]))


def resident_transactions(
    prop: Any, accounts: Iterable[dict[str, Any]], unit_status: dict[str, tuple[str, str]]
) -> Any:
    """A MITS ResidentTransactions document shaped like ResMan's (see resman-samples): every
    element path of the captured reply, in its order.

    Assumption (no capture shows one): a reversed payment and the row that reverses it are left
    out, so the document's balance is Σ charges − Σ payments − Σ concessions, as RentJeeves read
    it."""
    root = etree.Element("ResidentTransactions", nsmap={"MITS": MITS_NS})
    prop_el = _plain(root, "Property")
    pid = _plain(prop_el, "PropertyID")
    ident = _mits(pid, "Identification", Type="other")
    _mits(ident, "PrimaryID", prop["property_id"])
    _mits(ident, "MarketingName", prop["name"])
    _address(pid, prop, None)
    for account in accounts:
        lease, unit = account["lease"], account["unit"]
        customer = _plain(prop_el, "RT_Customer")
        _plain(customer, "CustomerID", lease["lease_id"])
        people = _plain(customer, "Customers")
        for person in account["people"]:
            _rt_person(people, prop, lease, unit, person)
        _rt_unit(customer, prop, account, unit_status)
        _plain(customer, "PaymentAccepted", "Yes")
        _rt_transactions(customer, lease, unit, account["transactions"])
    return root


def _doctype(root: Any) -> str:
    docinfo: Any = root.getroottree().docinfo
    return str(docinfo.doctype or "")


def marketing_document(data: dict[str, Any]) -> Any:
    """A MITS 4.0 marketing document (`PhysicalProperty/Property`), as ResMan's integrators read
    it: `Floorplan` with `@IDValue`, `UnitsAvailable`, `Room[@RoomType]/Count`, `SquareFeet`
    `@Min/@Max/@Avg`, `EffectiveRent@Min/@Max` and `File/Src`; `ILS_Unit/Units/Unit` with its
    statuses and `Pricing/MITS-OfferTerm` [OBSERVED: Lucky-dev1085/DWELL-CRM].

    Assumptions (MITS 4.0 names, no capture of ResMan's): `Floorplan/Name`, `UnitCount` and
    `MarketRent@Min/@Max`; the fee schedule in `Fees/Fee` with its charge code, amount,
    frequency and an optional floor plan.
    """
    prop = data["property"]
    units_by_type: dict[str, list[Any]] = {}
    for unit in data["units"]:
        units_by_type.setdefault(unit["unit_type_id"], []).append(unit)
    root = etree.Element("PhysicalProperty", nsmap={"MITS": MITS_NS})
    prop_el = _plain(root, "Property", IDValue=prop["property_id"])
    ident = _plain(prop_el, "PropertyID")
    _plain(ident, "Identification", IDValue=prop["property_id"], OrganizationName="ResMan")
    _plain(ident, "MarketingName", prop["name"])
    for plan in data["floor_plans"]:
        members = units_by_type.get(plan["unit_type_id"], [])
        rents = [u["market_rent_cents"] for u in members] or [plan["market_rent_cents"]]
        available = sum(
            data["unit_status"].get(u["unit_id"], ("", "available"))[1] != "leased" for u in members
        )
        plan_el = _plain(prop_el, "Floorplan", IDValue=plan["name"])
        _plain(plan_el, "Name", plan["description"])
        _plain(plan_el, "UnitCount", str(len(members)))
        _plain(plan_el, "UnitsAvailable", str(available))
        for room_type, count in (
            ("Bedroom", str(plan["bedrooms"])),
            ("Bathroom", plan["bathrooms"]),
        ):
            _plain(_plain(plan_el, "Room", RoomType=room_type), "Count", count)
        size = str(plan["square_feet"])
        _plain(plan_el, "SquareFeet", Min=size, Max=size, Avg=size)
        _plain(plan_el, "MarketRent", Min=dollars(min(rents)), Max=dollars(max(rents)))
        _plain(plan_el, "EffectiveRent", Min=dollars(min(rents)), Max=dollars(max(rents)))
        if plan["image_url"]:
            _plain(_plain(plan_el, "File"), "Src", plan["image_url"])
    for unit in data["units"]:
        occupancy, leased = data["unit_status"].get(unit["unit_id"], ("vacant", "available"))
        ils = _plain(prop_el, "ILS_Unit", IDValue=unit["unit_number"])
        unit_el = _plain(_plain(ils, "Units"), "Unit")
        _plain(unit_el, "Identification", IDValue=unit["unit_number"])
        _plain(unit_el, "UnitType", unit["unit_type"])
        _plain(unit_el, "UnitBedrooms", str(unit["bedrooms"]))
        _plain(unit_el, "UnitBathrooms", unit["bathrooms"])
        _plain(unit_el, "MarketRent", dollars(unit["market_rent_cents"]))
        _plain(unit_el, "UnitEconomicStatus", "residential")
        _plain(unit_el, "UnitOccupancyStatus", occupancy)
        _plain(unit_el, "UnitLeasedStatus", leased)
        term = _plain(_plain(ils, "Pricing"), "MITS-OfferTerm")
        _plain(term, "Term", "12")
        _plain(term, "EffectiveRent", dollars(unit["market_rent_cents"]))
    fees_el = _plain(prop_el, "Fees")
    for fee in data["fees"]:
        attributes = {"FeeID": fee["fee_id"], "ChargeCode": fee["abbreviation"]}
        if fee["floor_plan"]:
            attributes["FloorplanID"] = fee["floor_plan"]
        fee_el = _plain(fees_el, "Fee", **attributes)
        _plain(fee_el, "Name", fee["name"])
        _plain(fee_el, "Amount", dollars(fee["amount_cents"]))
        _plain(fee_el, "Frequency", fee["frequency"])
        _plain(fee_el, "Description", fee["description"] or "")
    return root
