"""`/docs` and `/redoc` work with no internet: every file they load comes from propbridge itself,
and a headless Chromium that cannot reach any other host renders both pages in full.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from propbridge.sandbox.resman.seed import SeedSize
from tests.conftest import stack_of_its_own
from tests.support import CHROMIUM_FLAGS, IN_CI, LiveStack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    yield from stack_of_its_own("sqlite", tmp_path_factory, SeedSize(1, 1, 1))


def loaded_files(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_file_a_page_loads_is_served_here(live: LiveStack, page: str) -> None:
    response = live.http.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    files = loaded_files(response.text)
    assert files, response.text
    for url in files:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
        fetched = live.http.get(url)
        assert fetched.status_code == 200, url
        assert len(fetched.content) > 1000, url
    assert live.http.get("/docs/assets/../../etc/passwd").status_code == 404
    assert live.http.get("/docs/assets/nope.js").status_code == 404


def _chromium(args: list[str], home: Path) -> str:
    if CHROMIUM is None:
        if IN_CI:
            raise AssertionError("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    command = [
        CHROMIUM,
        "--headless",
        *CHROMIUM_FLAGS,
        f"--user-data-dir={home}",
        # Every host but this one is unreachable: a page that needs the internet breaks.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        "--window-size=1280,1600",
        *args,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(home)}
    )
    return done.stdout


# Chromium's own services (sign-in, updates), asked whatever the page is.
BROWSER_HOSTS = (".google.com", ".googleapis.com", ".gvt1.com")


def _hosts_asked(net_log: Path) -> set[str]:
    """Every host a Chromium network log shows a request for, but the browser's own."""
    urls = re.findall(r'"url":"(https?://[^"]+)"', net_log.read_text())
    hosts = {re.sub(r"^https?://([^/:]+).*$", r"\1", url) for url in urls}
    return {host for host in hosts if not host.endswith(BROWSER_HOSTS)}


def test_a_browser_without_internet_renders_both_pages(live: LiveStack, tmp_path: Path) -> None:
    log = tmp_path / "net.json"
    swagger = _chromium(
        [f"--log-net-log={log}", "--dump-dom", f"{live.base_url}/docs"], tmp_path / "a"
    )
    assert _hosts_asked(log) == {"127.0.0.1"}, _hosts_asked(log)
    # Swagger UI has drawn the operations from /openapi.json.
    assert 'class="swagger-ui' in swagger
    assert "/v1/resident-charges/resman/" in swagger and "opblock" in swagger
    redoc = _chromium(
        [f"--log-net-log={log}", "--dump-dom", f"{live.base_url}/redoc"], tmp_path / "b"
    )
    # ReDoc's footer logo came from Redocly's CDN: served from here now.
    assert _hosts_asked(log) == {"127.0.0.1"}, _hosts_asked(log)
    assert "Get all resident charges" in redoc and "propbridge extensions" in redoc
    shot = tmp_path / "docs.png"
    _chromium([f"--screenshot={shot}", f"{live.base_url}/docs"], tmp_path / "c")
    assert shot.exists() and shot.stat().st_size > 20_000
    keep = os.environ.get("PROPBRIDGE_DOCS_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
