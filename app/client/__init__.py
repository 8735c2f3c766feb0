"""PKG's HTTP client, kept importable from `app.client` for existing code: it is the
`pkg-client` distribution (clients/python/, package `pkg_client`: httpx only, typed). New code
imports `pkg_client`, which installs without the server."""

from __future__ import annotations

from pkg_client import AsyncPKGHttpClient, PKGConnectionError, PKGError, PKGHttpClient

__all__ = ["AsyncPKGHttpClient", "PKGConnectionError", "PKGError", "PKGHttpClient"]
