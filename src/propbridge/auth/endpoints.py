"""`/v1/admin/api-keys/` (ours): list keys and revoke one. Keys are made and rotated with the
CLI, which shows a token once; no route ever shows one.

Admin keys limited to no integration only: a key allowed some integrations must not see or
revoke keys beyond them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from propbridge.api.dependencies import PrincipalCache, get_runtime, read_session, require_scope
from propbridge.api.errors import ApiError, not_found
from propbridge.api.listing import parse_list_query
from propbridge.api.openapi import answers
from propbridge.api.parameters import documented, paging
from propbridge.auth.schemas import ApiKeyList, ApiKeyRevoked
from propbridge.auth.service import Principal, list_api_keys, present_api_key, revoke_api_key

router = APIRouter(prefix="/v1/admin/api-keys", tags=["admin"])
admin = require_scope("admin")
ORDERABLE = {"created_at", "name", "last_used_at", "expires_at", "revoked_at"}


def _unrestricted(principal: Principal) -> None:
    if principal.integration_ids is not None:
        raise ApiError(
            403, "forbidden", "Only an admin key limited to no integration may manage API keys"
        )


@router.get("/", **answers(ApiKeyList, extension=True, **documented(paging(ORDERABLE))))
async def list_keys(
    request: Request,
    principal: Principal = Depends(admin),
    session: AsyncSession = Depends(read_session),
) -> dict[str, Any]:
    """Keys with their scopes, allow-list, expiry and last use, a page at a time; never a
    token."""
    _unrestricted(principal)
    query = parse_list_query(request, ORDERABLE)
    keys, total = await list_api_keys(session, query.offset, query.limit, query.order_by)
    return {
        "results": [present_api_key(key) for key in keys],
        "meta": query.meta(total, len(keys)),
    }


@router.delete("/{key_id}", **answers(ApiKeyRevoked, extension=True))
async def revoke_key(
    key_id: str, request: Request, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """Revoke a key: it stops authenticating (here at once, in other processes within
    seconds)."""
    _unrestricted(principal)
    async with get_runtime(request).database.write() as session:
        key = await revoke_api_key(session, key_id)
        if key is None:
            raise not_found(f"API key {key_id}")
        presented = present_api_key(key)
    cache: PrincipalCache = request.app.state.principal_cache
    cache.forget()
    return {"result": presented}
