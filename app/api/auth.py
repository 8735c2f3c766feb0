"""Named bearer tokens with two roles: `admin` (writes, and everything an evaluator may do) and
`evaluator` (evaluate and reads).

`PKG_ADMIN_TOKENS=alice:tok1,ci:tok2` names each token's caller; a bare token (`tok1`) is still
accepted and named `admin-1`, `admin-2`, … (`evaluator-1`, … for evaluator tokens). The name is
who the audit trail records. Tokens are compared in constant time (sha256 digests, every entry
compared) and never logged or stored: the table the routes use holds only their digests.

With no tokens configured every route that needs a role answers only loopback clients: a
request from any other address gets 403, however the server was started (`pkgctl serve`
refuses to bind off loopback then; `uvicorn app.main:app --host 0.0.0.0` starts, and refuses).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Annotated, Final, Literal, NamedTuple

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.services.request_context import bind_caller
from app.settings import Settings

Role = Literal["admin", "evaluator"]
bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")
NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}")
LOCAL_CALLER_NAME: Final = "local"  # no tokens configured: the server only binds loopback


class Caller(NamedTuple):
    """Who is calling: the token's name and its role."""

    name: str
    role: Role


LOCAL_CALLER: Final = Caller(LOCAL_CALLER_NAME, "admin")


def parse_token_entry(entry: str) -> tuple[str | None, str]:
    """`name:token` → (name, token); a bare `token` → (None, token)."""
    name, sep, token = entry.partition(":")
    if sep and token and NAME.fullmatch(name):
        return name, token
    return None, entry


class TokenTable:
    """The configured tokens, as digests. `identify` is all the hot path needs."""

    def __init__(self, entries: Iterable[tuple[str, Role]] = ()) -> None:
        self._entries: list[tuple[bytes, Caller]] = []
        counters: dict[Role, int] = {"admin": 0, "evaluator": 0}
        names: set[str] = set()
        for entry, role in entries:
            name, token = parse_token_entry(entry)
            if name is None:  # bare tokens are numbered among themselves: admin-1, admin-2, …
                counters[role] += 1
                name = f"{role}-{counters[role]}"
            if name in names:
                raise ValueError(f"two tokens are named {name!r}; token names must be unique")
            names.add(name)
            self._entries.append((_digest(token), Caller(name, role)))

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenTable:
        admin = [(t.get_secret_value(), "admin") for t in settings.admin_tokens]
        evaluator = [(t.get_secret_value(), "evaluator") for t in settings.evaluator_tokens]
        return cls([*admin, *evaluator])  # type: ignore[list-item]  # literal roles above

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    @property
    def names(self) -> list[str]:
        return [caller.name for _digest_, caller in self._entries]

    def caller_of(self, token: str) -> Caller | None:
        """The caller a token belongs to. Compares against every entry, so the time taken
        says nothing about which one (if any) matched."""
        presented = _digest(token)
        found: Caller | None = None
        for digest, caller in self._entries:
            if hmac.compare_digest(presented, digest) and found is None:
                found = caller
        return found

    def identify(self, authorization: str | None) -> Caller | None:
        """An `Authorization` header value → (name, role), or None when it names nobody."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return self.caller_of(token.strip())


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_TABLES: dict[int, tuple[Settings, TokenTable]] = {}


def table_for(settings: Settings) -> TokenTable:
    """The token table of `settings`, built once (the settings object is kept alive with it,
    so its id cannot be reused)."""
    found = _TABLES.get(id(settings))
    if found is None:
        found = _TABLES[id(settings)] = (settings, TokenTable.from_settings(settings))
    return found[1]


def tokens_of(request: Request) -> TokenTable:
    table: TokenTable | None = getattr(request.app.state, "tokens", None)
    if table is None:
        table = request.app.state.tokens = table_for(request.app.state.settings)
    return table


def is_loopback_client(request: Request) -> bool:
    """127.0.0.0/8 or ::1 (also ::ffff:127.x). A Unix-socket client (no address) is local."""
    return is_loopback_host(request.client.host if request.client is not None else None)


@lru_cache(maxsize=4096)  # a few client addresses ask again and again
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


def authorize_caller(table: TokenTable, token: str | None, role: Role, *, loopback: bool) -> Caller:
    """Who `token` names (name and role), or the 401/403 that refuses it. `loopback`: the
    client is on this host (with no tokens configured only such clients are served)."""
    if not table.enabled:
        if not loopback:
            raise HTTPException(
                403,
                "no tokens are configured, so only loopback clients are served; set "
                "PKG_ADMIN_TOKENS (and PKG_EVALUATOR_TOKENS) to serve other addresses",
            )
        bind_caller(LOCAL_CALLER_NAME)
        return LOCAL_CALLER
    if token is None:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    caller = table.caller_of(token)
    if caller is None:
        raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    bind_caller(caller.name)  # the access and decision logs name it (never the token)
    if role == "admin" and caller.role != "admin":
        raise HTTPException(403, "this route needs the admin role")
    return caller


def authorize(settings: Settings, token: str | None, role: Role, *, loopback: bool) -> Role:
    """The role `token` grants, or the 401/403 that refuses it (the lean /evaluate handler
    decides here; routes use `authorize_caller` through `require`)."""
    return authorize_caller(table_for(settings), token, role, loopback=loopback).role


def require(role: Role) -> object:
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        token = credentials.credentials if credentials else None
        return authorize_caller(
            tokens_of(request), token, role, loopback=is_loopback_client(request)
        )

    return Depends(check)


AdminRole = Annotated[Caller, require("admin")]
ReaderRole = Annotated[Caller, require("evaluator")]
