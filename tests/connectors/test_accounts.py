"""Which PMS account an integration acts on: for ResMan, one AccountID at one ResMan, however
its base URL or the id is written; nothing else of the credentials counts."""

from __future__ import annotations

import pytest

from propbridge.connectors.registry import account_key
from propbridge.connectors.resman.connector import canonical_url

CREDENTIALS = {"integrationPartnerId": "p", "apiKey": "k", "accountId": "4001"}


@pytest.mark.parametrize(
    "written",
    [
        "https://api.myresman.com",
        "HTTPS://API.MyResMan.com/",
        "https://api.myresman.com:443",
        "https://api.myresman.com//",
        "https://api.myresman.com./",  # the DNS root
        "https://api.myresman.com/./",
        "https://api.myresman.com/x/../",
        "https://api.myresman.com/%2e/",
        None,  # ResMan's production hosts
        "",
    ],
)
def test_one_resman_written_several_ways_is_one_url(written: str | None) -> None:
    assert canonical_url(written) == "https://api.myresman.com"


def test_ports_paths_and_schemes_that_differ_are_other_urls() -> None:
    base = canonical_url("http://sandbox.test")
    assert canonical_url("http://sandbox.test:80/") == base
    others = ("https://sandbox.test", "http://sandbox.test:8100", "http://sandbox.test/other")
    assert all(canonical_url(url) != base for url in others)
    assert canonical_url("http://[::1]:8100/") == "http://[::1]:8100"
    assert canonical_url("http://sandbox.test:99999") == "http://sandbox.test:99999"
    assert canonical_url("http://sandbox.test/a/./b/../%7Ec") == "http://sandbox.test/a/~c"
    assert canonical_url("http://sandbox.test/a%2fb") == "http://sandbox.test/a%2Fb"
    assert canonical_url("http://sandbox.test/a%2Fb") != canonical_url("http://sandbox.test/a/b")


def test_the_account_is_the_account_id_at_one_resman() -> None:
    key = account_key("RESMAN", "http://sandbox.test", CREDENTIALS)
    assert len(key) == 64 and "4001" not in key
    same = [
        account_key("RESMAN", "HTTP://Sandbox.test:80/", CREDENTIALS),
        account_key("RESMAN", "http://sandbox.test", {**CREDENTIALS, "accountId": " 4001 "}),
        account_key("RESMAN", "http://sandbox.test", {**CREDENTIALS, "apiKey": "other"}),
        account_key("RESMAN", "http://sandbox.test", {**CREDENTIALS, "integrationPartnerId": "x"}),
    ]
    assert set(same) == {key}
    assert account_key("RESMAN", "http://sandbox.test", {**CREDENTIALS, "accountId": "4002"}) != key
    assert account_key("RESMAN", "http://elsewhere.test", CREDENTIALS) != key
    assert account_key("RESMAN", None, CREDENTIALS) != key
