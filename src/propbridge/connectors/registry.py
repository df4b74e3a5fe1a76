"""Which connector serves which vendor. The only place that names concrete PMS packages."""

from __future__ import annotations

import hashlib

import httpx

from propbridge.connectors.base import Connector, IntegrationAccess, TransactionToPost
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


def account_key(vendor: str, base_url: str | None, credentials: dict[str, str]) -> str:
    """A digest naming the PMS account an integration acts on (its vendor's `pms_account`):
    equal for integrations that share a ledger, and stored in the clear since it reveals no
    credential."""
    account = CONNECTORS[vendor].pms_account(base_url, credentials)
    return hashlib.sha256(f"{vendor}\x1f{account}".encode()).hexdigest()


def outgoing_document(
    vendor: str, x_property_id: str, transactions: list[TransactionToPost]
) -> str | None:
    """The document a vendor's connector sends for these transactions, laid out for reading;
    None when it cannot be built (what `post_transactions` refuses before sending anything)."""
    factory = CONNECTORS.get(vendor)
    if factory is None:
        return None
    try:
        return factory.outgoing_document(x_property_id, transactions, indent=True)
    except ValueError:
        return None
