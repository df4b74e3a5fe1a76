"""ResMan v2 JSON → propbridge records."""

from __future__ import annotations

import pytest

from propbridge.connectors.resman.mapping import (
    lease_status,
    map_charge_code,
    map_property,
    map_residents,
    normalise_phone,
)


@pytest.mark.parametrize(
    "raw,normalised",
    [
        ("Current", "ACTIVE"),
        ("Notice to Vacate", "ACTIVE"),
        ("Month to Month", "ACTIVE"),
        ("Former", "INACTIVE"),
        ("Pending", "PENDING"),
        ("Evicted", "EVICTED"),
        ("Under Eviction", "ACTIVE"),
        ("Pending Transfer", "PENDING"),
        ("Renewed", "INACTIVE"),
        ("Something New", "OTHER"),
        (None, None),
    ],
)
def test_lease_status_normalisation(raw: str | None, normalised: str | None) -> None:
    assert lease_status(raw) == normalised


@pytest.mark.parametrize(
    "raw,phone",
    [
        ("804-555-1234", "8045551234"),
        ("+1 (804) 555-1234", "8045551234"),
        ("ext 12", "ext 12"),
        ("", None),
    ],
)
def test_phone_normalisation(raw: str, phone: str | None) -> None:
    assert normalise_phone(raw) == phone


def test_resident_posts_to_the_active_lease() -> None:
    person = {"personId": "P1", "firstName": "Ana", "lastName": "Lee", "isMainContact": True}
    leases = [
        {
            "leaseId": "OLD",
            "propertyId": "PROP",
            "leaseStatus": "Former",
            "leaseStartDate": "2024-01-01",
            "people": [person],
        },
        {
            "leaseId": "NEW",
            "propertyId": "PROP",
            "leaseStatus": "Current",
            "leaseStartDate": "2025-01-01",
            "people": [person],
        },
    ]
    [resident] = map_residents(leases)
    assert resident.x_id == "p1" and resident.fields["x_lease_id"] == "new"
    assert [link["lease_x_id"] for link in resident.links["leases"]] == ["old", "new"]
    assert resident.links["leases"][0]["resident_type_normalized"] == "PRIMARY"


def test_property_and_charge_code_fields() -> None:
    prop = map_property(
        {
            "propertyId": "ABC",
            "name": "Mill Pond",
            "abbreviation": "MP",
            "type": "Multi-Family",
            "streetAddress": "1 Road",
        }
    )
    assert prop.x_id == prop.x_property_id == "abc"
    assert prop.fields["type_normalized"] == "MULTI_FAMILY" and prop.fields["code"] == "MP"
    code = map_charge_code(
        {
            "transactionCategoryId": "C1",
            "abbreviation": "PETF",
            "name": "Pet Fee",
            "type": "Charge",
            "glAccount": {"number": "4420"},
        },
        "abc",
    )
    assert code.x_property_id == "abc" and code.fields["credit_gl_account"] == "4420"
