"""Bearer tokens with two roles: `admin` (writes, and everything an evaluator may do) and
`evaluator` (evaluate and reads). Tokens are compared in constant time and never logged.

With no tokens configured every route that needs a role answers only loopback clients: a
request from any other address gets 403, however the server was started (`pkgctl serve`
refuses to bind off loopback then; `uvicorn app.main:app --host 0.0.0.0` starts, and refuses).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.settings import Settings

Role = Literal["admin", "evaluator"]
bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


def _matches(token: str, candidates: list[str]) -> bool:
    # compare against every candidate, so the time taken says nothing about which one matched
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(token.encode(), candidate.encode())
    return found


def role_of(token: str, settings: Settings) -> Role | None:
    if _matches(token, [t.get_secret_value() for t in settings.admin_tokens]):
        return "admin"
    if _matches(token, [t.get_secret_value() for t in settings.evaluator_tokens]):
        return "evaluator"
    return None


def is_loopback_client(request: Request) -> bool:
    """127.0.0.0/8 or ::1 (also ::ffff:127.x). A Unix-socket client (no address) is local."""
    return is_loopback_host(request.client.host if request.client is not None else None)


def is_loopback_host(host: str | None) -> bool:
    """`is_loopback_client` for an ASGI scope's client host (None: a Unix socket, local)."""
    if host is None:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name, not an address: not provably loopback
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, as `HTTPBearer` reads it."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        return None
    return token


def authorize(settings: Settings, token: str | None, role: Role, *, loopback: bool) -> Role:
    """The role `token` grants, or the 401/403 that refuses it (every route and the lean
    /evaluate handler decide here). `loopback`: the client is on this host."""
    if not settings.auth_enabled:
        if not loopback:
            raise HTTPException(
                403,
                "no tokens are configured, so only loopback clients are served; set "
                "PKG_ADMIN_TOKENS (and PKG_EVALUATOR_TOKENS) to serve other addresses",
            )
        return "admin"
    if token is None:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    granted = role_of(token, settings)
    if granted is None:
        raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    if role == "admin" and granted != "admin":
        raise HTTPException(403, "this route needs the admin role")
    return granted


def require(role: Role) -> object:
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Role:
        settings: Settings = request.app.state.settings
        token = credentials.credentials if credentials else None
        return authorize(settings, token, role, loopback=is_loopback_client(request))

    return Depends(check)


AdminRole = Annotated[Role, require("admin")]
ReaderRole = Annotated[Role, require("evaluator")]
