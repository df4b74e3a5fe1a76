"""Attacks: steal ResMan's credentials by pointing an integration at your own server; reach
internal addresses through a base URL or a webhook; override a webhook's signature headers;
use the delivery log as a port scanner."""

from __future__ import annotations

import socket
import threading
from typing import Any

import httpx
import pytest

from propbridge.outbound import OutboundPolicy, OutboundRefusedError, guarded_transport
from tests.support import LiveStack, free_port, wait_for

INTERNAL = [
    "http://10.1.2.3/",
    "https://10.1.2.3/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]:8443/",
    "https://[::ffff:127.0.0.2]/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "http://127.0.0.2:8100/",
    "https://user:pw@example.com/",
    "ftp://example.com/",
    # IPv6 that carries an inner IPv4 address: NAT64, 6to4, IPv4-compatible, site-local.
    "https://[64:ff9b::a00:1]/",
    "https://[2002:a9fe:a9fe::]/",
    "https://[::127.0.0.1]/",
    "https://[::ffff:0:7f00:1]/",
    "https://[fec0::1]/",
    # Malformed: a 400, never a 500.
    "https://example.com:99999/",
    "https://example.com:abc/",
    "https://[::1/",
]


def test_a_key_limited_to_an_integration_cannot_redirect_its_credentials(
    stack: LiveStack,
) -> None:
    integration = stack.create_integration()
    limited = stack.client(stack.new_token(integrations=[integration["id"]]))
    thief = f"http://127.0.0.1:{free_port()}"
    moved = limited.put(
        f"/v1/admin/integrations/{integration['id']}/",
        json={"base_url": thief, "credentials": stack.credentials()},
    )
    assert moved.status_code == 403
    bare = stack.http.put(f"/v1/admin/integrations/{integration['id']}/", json={"base_url": thief})
    assert bare.status_code == 400
    assert bare.json()["error"]["details"]["issues"][0]["path"] == ["credentials"]
    kept = stack.http.get(f"/v1/admin/integrations/{integration['id']}/").json()["results"]
    assert kept["base_url"] == stack.sandbox_url
    # Other settings stay the allow-listed key's to change.
    renamed = limited.put(f"/v1/admin/integrations/{integration['id']}/", json={"name": "mine"})
    assert renamed.status_code == 200


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_base_urls_are_refused(stack: LiveStack, url: str) -> None:
    created = stack.http.post(
        "/v1/admin/integrations/",
        json={
            "integration_vendor": "RESMAN",
            "name": "ssrf",
            "base_url": url,
            "credentials": stack.credentials(),
        },
    )
    assert created.status_code == 400, created.text


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_webhook_urls_are_refused(stack: LiveStack, url: str) -> None:
    created = stack.http.post("/v1/webhooks/", json={"url": url, "triggers": ["JOB_FAILURE"]})
    assert created.status_code == 400, created.text


@pytest.mark.parametrize(
    "name", ["Host", "webhook-signature", "Propexo-Signature", "Content-Length", "webhook-id"]
)
def test_a_webhook_cannot_set_propbridges_own_headers(stack: LiveStack, name: str) -> None:
    created = stack.http.post(
        "/v1/webhooks/",
        json={
            "url": "http://127.0.0.1:9/",
            "triggers": ["JOB_FAILURE"],
            "headers": [{"header": name, "value": "x"}],
        },
    )
    assert created.status_code == 400


async def test_every_connection_is_checked_after_resolution() -> None:
    """A name that resolves to an internal address (as a rebinding name would, later) is
    refused when connecting, whatever was checked when it was saved."""
    policy = OutboundPolicy.parse("")
    async with httpx.AsyncClient(transport=guarded_transport(policy, httpx.Limits())) as http:
        for url in ("http://localhost:9/", "https://127.0.0.1:9/", "http://[::1]:9/"):
            with pytest.raises(OutboundRefusedError):
                await http.get(url)
    with pytest.raises(OutboundRefusedError):
        OutboundPolicy.parse("").check_url("https://localhost/")


def _non_http_server() -> int:
    """A port that answers garbage instead of HTTP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            connection, _ = server.accept()
            connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(server.getsockname()[1])


def test_the_delivery_log_does_not_tell_ports_apart(stack: LiveStack) -> None:
    closed, garbage = free_port(), _non_http_server()
    hooks: list[dict[str, Any]] = []
    for port in (closed, garbage):
        hooks.append(
            stack.http.post(
                "/v1/webhooks/",
                json={
                    "url": f"http://127.0.0.1:{port}/",
                    "triggers": ["SYNC_COMPLETE", "FIRST_SYNC_COMPLETE"],
                    "active": True,
                },
            ).json()["result"]
        )
    integration = stack.create_integration()
    stack.sync(integration["id"])

    def attempts(hook: dict[str, Any]) -> list[Any]:
        deliveries = stack.http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["results"]
        return [a for d in deliveries for a in d["attempt_log"]]

    logs = [wait_for(lambda h=hook: attempts(h), timeout=30) for hook in hooks]
    seen = {(a["error"], a["status_code"], a["latency_ms"]) for log in logs for a in log}
    assert seen == {("no HTTP answer from the endpoint", None, None)}
    for hook in hooks:
        stack.http.delete(f"/v1/webhooks/{hook['id']}")
