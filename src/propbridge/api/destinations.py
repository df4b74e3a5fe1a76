"""A URL in a request body that outbound calls would go to: refused as a 400 naming its field
when the outbound policy does not allow it (integrations' `base_url`, webhooks' `url`)."""

from __future__ import annotations

from propbridge.api.errors import bad_request, issue
from propbridge.outbound import OutboundPolicy, OutboundRefusedError


async def require_destination(policy: OutboundPolicy, url: str, field: str) -> None:
    """400 naming the body's `field` unless `url` is an allowed destination."""
    try:
        await policy.check(url)
    except OutboundRefusedError as error:
        raise bad_request(
            f"{field} is not an allowed destination: {error}", [issue([field], str(error))]
        ) from error
