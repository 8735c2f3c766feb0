"""PKG's HTTP client SDK (app/client/http.py): `PKGHttpClient`, `AsyncPKGHttpClient`, and the
errors they raise. It imports httpx only, none of the server."""

from __future__ import annotations

from app.client.http import AsyncPKGHttpClient, PKGConnectionError, PKGError, PKGHttpClient

__all__ = ["AsyncPKGHttpClient", "PKGConnectionError", "PKGError", "PKGHttpClient"]
