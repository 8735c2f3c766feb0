"""Bearer tokens with two roles: `admin` (writes, and everything an evaluator may do) and
`evaluator` (evaluate and reads). Tokens are compared in constant time and never logged."""

from __future__ import annotations

import hmac
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


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, as `HTTPBearer` reads it."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        return None
    return token


def authorize(settings: Settings, token: str | None, role: Role) -> Role:
    """The role `token` grants, or the 401/403 that refuses it (every route and the lean
    /evaluate handler decide here)."""
    if not settings.auth_enabled:
        return "admin"  # no tokens configured: the server only binds loopback
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
        return authorize(settings, credentials.credentials if credentials else None, role)

    return Depends(check)


AdminRole = Annotated[Role, require("admin")]
ReaderRole = Annotated[Role, require("evaluator")]
