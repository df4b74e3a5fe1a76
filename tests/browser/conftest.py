"""A real browser for the console and the sandbox's page: Playwright driving Debian's Chromium.

`make test` installs Chromium from Debian's packages when it is missing (`scripts/chromium.sh`);
Playwright never downloads a browser. Where Chromium cannot be installed at all, these tests
skip and say why. Each page a test visits is saved as a screenshot under
`test-artifacts/screenshots/<engine>/`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support import CHROMIUM_FLAGS, LiveStack

ARTIFACTS = Path(__file__).parent.parent.parent / "test-artifacts" / "screenshots"


def chromium_path() -> str | None:
    """Debian's Chromium (or the one `PROPBRIDGE_CHROMIUM` names)."""
    named = os.environ.get("PROPBRIDGE_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


# While Playwright's sync driver runs, its event loop is the thread's running loop, and making a
# stack's database calls `asyncio.run`. So the driver lives for one module and one stack: it
# depends on the stack, which is made first, and it is stopped before the next engine's stack is.
@pytest.fixture(scope="module")
def playwright(stack: LiveStack) -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "Chromium is not installed and could not be installed from Debian's packages "
            "(scripts/chromium.sh: apt-get install chromium); the browser tests need it"
        )
    launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookie of another test's session."""
    made = browser.new_context(viewport={"width": 1360, "height": 900})
    made.set_default_timeout(30_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


class Shots:
    """Saves full-page screenshots of one engine's run."""

    def __init__(self, engine: str) -> None:
        self.folder = ARTIFACTS / engine
        self.folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(stack: LiveStack) -> Shots:
    return Shots(stack.runtime.database.dialect)


def sign_in(page: Page, stack: LiveStack, token: str | None = None) -> None:
    """Sign in to the console with an admin key (a new one unless given)."""
    page.goto(f"{stack.base_url}/console/sign-in")
    page.fill("#api-key", token or stack.new_token(["admin"]))
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.base_url}/console/integrations")
