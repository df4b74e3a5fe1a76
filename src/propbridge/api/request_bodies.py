"""Reading a JSON request body by hand (routes whose schema depends on the body itself).

Malformed or non-object bodies are 400s with the same error envelope as validated bodies.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from propbridge.api.errors import bad_request, issue


async def json_object_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 when it is not one."""
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("The body is not valid JSON", [issue([], "Invalid JSON")]) from None
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object", [issue([], "Expected an object")])
    return body
