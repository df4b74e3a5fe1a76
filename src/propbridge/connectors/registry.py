"""Which connector serves which vendor. The only place that names concrete PMS packages."""

from __future__ import annotations

import httpx

from propbridge.connectors.base import Connector, IntegrationAccess
from propbridge.connectors.resman.connector import ResManConnector

CONNECTORS: dict[str, type[ResManConnector]] = {"RESMAN": ResManConnector}


def supported_vendors() -> frozenset[str]:
    """Vendors propbridge can connect to."""
    return frozenset(CONNECTORS)


def connector_for(vendor: str, access: IntegrationAccess, http: httpx.AsyncClient) -> Connector:
    """A connector for one integration."""
    try:
        factory = CONNECTORS[vendor]
    except KeyError:
        raise ValueError(f"no connector for vendor {vendor!r}") from None
    return factory(access, http)
