"""Signing in to the console: the admin key kept sealed in an HTTP-only cookie, and the form
token every POST must carry.

The cookie names a session row and holds the key and a per-session form token, sealed (AES-GCM)
with the deployment's encryption key: unreadable and unforgeable without it. It is worth nothing
once the session is signed out or has expired (its row says so) or the key is revoked, since
every request checks the row and authenticates the key again exactly as the API does.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import Request

from propbridge.api.dependencies import PrincipalCache, get_runtime
from propbridge.auth.service import Principal
from propbridge.console import repository
from propbridge.db.base import utcnow
from propbridge.integrations.credentials import ConfigurationError

COOKIE = "pb_console"
# Before signing in: the sign-in form's token (a double-submit cookie).
SIGN_IN_COOKIE = "pb_console_sign_in"
PATH = "/console"
# A session lasts this long, however busy; then the key is asked for again.
LIFETIME = timedelta(hours=12)
# What the sealed cookies are bound to (AES-GCM associated data): no other sealed value fits.
SEALED_FOR = "propbridge-console-session"
MESSAGE_FOR = "propbridge-console-message"


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in session: its row, who signed in (their token) and the token their forms
    carry."""

    id: str
    token: str
    csrf: str


class NotSignedIn(Exception):
    """No session, an ended or expired one, or a key that no longer authenticates."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "")
        self.reason = reason


class Refused(Exception):
    """A request the console will not serve (403): a form from elsewhere."""


def form_token() -> str:
    """A new token for a form to carry."""
    return secrets.token_urlsafe(32)


async def begin(request: Request, token: str, principal: Principal) -> ConsoleSession:
    """Start a session for a key just checked (its row lasts `LIFETIME`)."""
    now = utcnow()
    async with get_runtime(request).database.write() as db:
        session_id = await repository.start_session(db, principal.key_id, now, now + LIFETIME)
    return ConsoleSession(session_id, token, form_token())


async def end(request: Request, session: ConsoleSession) -> None:
    """Sign out: the session's row is ended, so a copy of its cookie opens nothing."""
    async with get_runtime(request).database.write() as db:
        await repository.end_session(db, session.id, utcnow())


def seal(request: Request, session: ConsoleSession) -> str:
    """The cookie value of a session."""
    cipher = get_runtime(request).cipher
    payload = {"id": session.id, "token": session.token, "csrf": session.csrf}
    return base64.urlsafe_b64encode(cipher.encrypt(SEALED_FOR, payload)).decode()


def _unseal(request: Request, value: str) -> ConsoleSession | None:
    try:
        sealed = base64.urlsafe_b64decode(value.encode())
        payload = get_runtime(request).cipher.decrypt(SEALED_FOR, sealed)
        return ConsoleSession(str(payload["id"]), str(payload["token"]), str(payload["csrf"]))
    except (binascii.Error, ValueError, KeyError, TypeError, ConfigurationError):
        return None


def seal_message(request: Request, message: str) -> str:
    """A message for the next page, sealed so that nothing else can put words there."""
    sealed = get_runtime(request).cipher.encrypt(MESSAGE_FOR, {"message": message})
    return base64.urlsafe_b64encode(sealed).decode()


def unseal_message(request: Request, value: str) -> str:
    """The message a sealed value carries ("" when there is none or it was not ours)."""
    if not value:
        return ""
    try:
        payload = get_runtime(request).cipher.decrypt(
            MESSAGE_FOR, base64.urlsafe_b64decode(value.encode())
        )
        return str(payload["message"])
    except (binascii.Error, ValueError, KeyError, TypeError, ConfigurationError):
        return ""


async def principal_of(request: Request, token: str) -> Principal | None:
    """The live key behind a token, looked up as the API looks every key up."""
    cache: PrincipalCache = request.app.state.principal_cache
    return await cache.lookup(get_runtime(request).database, token)


async def signed_in(request: Request) -> tuple[ConsoleSession, Principal]:
    """The request's session and its key; NotSignedIn when there is none, it was signed out
    or has expired, or the key was revoked, expired or lost its admin scope since."""
    value = request.cookies.get(COOKIE)
    if not value:
        raise NotSignedIn()
    session = _unseal(request, value)
    if session is None:
        raise NotSignedIn("Your session has ended; sign in again.")
    principal = await principal_of(request, session.token)
    if principal is None:
        raise NotSignedIn("That API key is no longer valid (revoked or expired).")
    if "admin" not in principal.scopes:
        raise NotSignedIn("That API key no longer has the admin scope.")
    async with get_runtime(request).database.read() as db:
        key_id = await repository.live_session_key(db, session.id, utcnow())
    if key_id != principal.key_id:
        raise NotSignedIn("Your session has ended; sign in again.")
    return session, principal


def same_site(request: Request) -> None:
    """Refused unless the browser says the request comes from this site: a cross-site form
    post carries another `Origin`, or `Sec-Fetch-Site: cross-site`."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise Refused("Cross-site requests are refused")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Refused("Cross-site requests are refused")


def check_form_token(expected: str, given: object) -> None:
    """Refused unless the form carries the session's token."""
    if not expected or not isinstance(given, str) or not secrets.compare_digest(given, expected):
        raise Refused("The form is not from this console (missing or wrong token)")
