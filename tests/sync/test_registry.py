"""The registry of synced models: names in upsert order, unknown names, the feeds to read."""

from __future__ import annotations

import pytest

from propbridge.billing.models import ChargeCode
from propbridge.catalog import SYNCED_MODELS
from propbridge.residents.models import Lease, Property, Resident
from propbridge.sync.registry import SyncedModel, SyncedModels

# A connector's feeds, in its order (parents first).
AVAILABLE = ("properties", "charge_codes", "leases", "transactions")
PROPERTIES = SyncedModel("properties", Property, "properties")
CODES = SyncedModel("charge_codes", ChargeCode, "charge_codes")
LEASES = SyncedModel("leases", Lease, "leases")
RESIDENTS = SyncedModel("residents", Resident, "leases")


def _models() -> SyncedModels:
    return SyncedModels((PROPERTIES, CODES, LEASES, RESIDENTS))


def test_names_and_iteration_keep_the_registration_order() -> None:
    models = _models()
    assert models.names == ("properties", "charge_codes", "leases", "residents")
    assert [model.name for model in models] == list(models.names)
    assert models["residents"] is RESIDENTS
    with pytest.raises(KeyError):
        models["fees"]


def test_the_event_model_is_the_tables_name() -> None:
    assert RESIDENTS.event_model == "residents"
    assert SyncedModel("people", Resident, "leases").event_model == "residents"


def test_unknown_names_are_sorted_once_each() -> None:
    models = _models()
    assert models.unknown(["residents", "zebras", "apples", "zebras"]) == ["apples", "zebras"]
    assert models.unknown(["properties", "leases"]) == []
    assert models.unknown([]) == []


def test_feeds_are_all_when_no_model_is_named() -> None:
    models = _models()
    assert models.feeds(None, AVAILABLE) == list(AVAILABLE)
    assert models.feeds([], AVAILABLE) == list(AVAILABLE)


def test_feeds_always_include_properties_in_the_connectors_order() -> None:
    models = _models()
    assert models.feeds(["residents"], AVAILABLE) == ["properties", "leases"]
    assert models.feeds(["leases", "charge_codes"], AVAILABLE) == [
        "properties",
        "charge_codes",
        "leases",
    ]
    assert models.feeds(["properties"], AVAILABLE) == ["properties"]


def test_feeds_the_connector_lacks_are_not_read() -> None:
    models = _models()
    assert models.feeds(["charge_codes"], ("properties", "leases")) == ["properties"]


def test_a_model_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        SyncedModels((PROPERTIES, LEASES, SyncedModel("leases", Resident, "leases")))


def test_the_catalog_lists_properties_first_and_every_model_once() -> None:
    names = SYNCED_MODELS.names
    assert names[0] == "properties" and len(set(names)) == len(names)
    assert names.index("leases") < names.index("residents") < names.index("resident_charges")
