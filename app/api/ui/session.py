"""The console's session: a signed cookie, the CSRF token bound to it, and who is calling.

The cookie (`pkg_console`) is HttpOnly, SameSite=Strict, scoped to `/ui` and signed with
itsdangerous (`PKG_UI_SECRET`, or a random secret drawn once per process). It holds a random
session id and, after login, the bearer token typed into the login form: every request checks
that token against the configured tokens with the API's own `authorize_caller`, so the console
grants exactly what the API grants, and a token removed from the settings ends its sessions.
With no tokens configured the console, like the API, serves loopback clients only, as `local`.

Every form that changes something carries `csrf`, an HMAC of the session id under the secret;
a cross-site request carries neither the Strict cookie nor the token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any, Final

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from app.api.auth import Caller, Role, authorize_caller, is_loopback_client, tokens_of
from app.settings import Settings

COOKIE: Final = "pkg_console"
COOKIE_PATH: Final = "/ui"
SALT: Final = "pkg-console-session"
LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})


class LoginRequired(Exception):  # a signal to the route class, not an error
    """No session token (or one no longer configured): the route answers with the login page."""


@dataclass(frozen=True)
class Session:
    sid: str
    token: str | None = None
    fresh: bool = False  # not from the request's cookie: the response must set it


class SessionKeeper:
    """Reads and writes the session cookie; one per app (its secret lives here)."""

    def __init__(self, settings: Settings) -> None:
        configured = settings.ui_secret.get_secret_value() if settings.ui_secret else None
        self._secret = configured or secrets.token_urlsafe(32)
        self._serializer = URLSafeTimedSerializer(self._secret, salt=SALT)
        self.max_age_s = int(settings.ui_session_hours * 3600)

    def read(self, request: Request) -> Session:
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data: Any = self._serializer.loads(raw, max_age=self.max_age_s)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("sid"), str):
                token = data.get("token")
                return Session(data["sid"], token if isinstance(token, str) else None)
        return self.new()

    @staticmethod
    def new(token: str | None = None) -> Session:
        return Session(secrets.token_urlsafe(24), token, fresh=True)

    def write(self, response: Response, session: Session, request: Request) -> None:
        value = self._serializer.dumps({"sid": session.sid, "token": session.token})
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.max_age_s,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")

    def csrf_token(self, session: Session) -> str:
        message = f"csrf:{session.sid}".encode()
        return hmac.new(self._secret.encode(), message, hashlib.sha256).hexdigest()

    def check_csrf(self, request: Request, session: Session, presented: str | None) -> None:
        """403 unless the form's token is this session's and the request is same-origin."""
        expected = self.csrf_token(session)
        if session.fresh or not presented or not hmac.compare_digest(presented, expected):
            raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")
        origin = request.headers.get("origin")
        if origin and origin != own_origin(request):
            raise HTTPException(403, f"a form from {origin} may not change anything here")


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def caller_of(request: Request, session: Session, role: Role) -> Caller:
    """Who this session is, with `role` required (the API's rule, the API's messages).

    No session token → `LoginRequired`; a token that no longer names anybody → the same."""
    table = tokens_of(request)
    loopback = is_loopback_client(request)
    if not table.enabled:
        if loopback and not _loopback_host(request):
            # a page on another origin that resolves to 127.0.0.1 (DNS rebinding) is no local user
            raise HTTPException(403, "no tokens are configured: open the console as localhost")
        return authorize_caller(table, None, role, loopback=loopback)
    if session.token is None:
        raise LoginRequired
    try:
        return authorize_caller(table, session.token, role, loopback=loopback)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise LoginRequired from exc
        raise


def token_names_someone(request: Request, token: str) -> Caller | None:
    return tokens_of(request).caller_of(token)


def login_needed(request: Request) -> bool:
    return tokens_of(request).enabled


def _loopback_host(request: Request) -> bool:
    host = request.url.hostname or ""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
