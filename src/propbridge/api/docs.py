"""`/docs` (Swagger UI) and `/redoc`, with their scripts and styles served from the installed
`fastapi_offline` package: the pages work on a machine with no internet, and load nothing from
elsewhere (FastAPI's defaults fetch them from a CDN).
"""

from __future__ import annotations

import functools
from importlib.resources import files

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from propbridge.api.errors import not_found

ASSETS_PATH = "/docs/assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
TITLE = "propbridge API"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """The interactive reference."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=TITLE,
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
    )


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    """The reading reference (no web fonts: they would come from Google)."""
    return get_redoc_html(
        openapi_url="/openapi.json",
        title=TITLE,
        redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )


# ReDoc's footer shows Redocly's logo from their CDN: the page would reach the internet for it.
REMOTE_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _read(name: str) -> bytes:
    content = (files("fastapi_offline") / "static" / name).read_bytes()
    if name == "redoc.standalone.js":
        content = content.replace(REMOTE_LOGO, f"{ASSETS_PATH}/favicon.png".encode())
    return content


@router.get(ASSETS_PATH + "/{name}")
async def asset(name: str) -> Response:
    """One of the pages' files, cached for a day (they change only with the package)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise not_found(f"Asset {name}")
    return Response(
        _read(name), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
