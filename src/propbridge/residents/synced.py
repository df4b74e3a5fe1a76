"""The property, lease and resident models the sync copies from the PMS (entries of the
synced-model registry). Leases and residents store no document: their objects show their links
to each other, read when they are served."""

from __future__ import annotations

from propbridge.residents.models import Lease, Property, Resident
from propbridge.residents.presenters import render_property
from propbridge.residents.repository import link_residents, resolve_lease_links
from propbridge.sync.registry import SyncedModel

PROPERTIES = SyncedModel("properties", Property, "properties", render_property)
LEASES = SyncedModel("leases", Lease, "leases", resolve_links=resolve_lease_links)
RESIDENTS = SyncedModel(
    "residents",
    Resident,
    "leases",
    after_write=link_residents,
    after_write_tables=("residents", "leases"),
)
