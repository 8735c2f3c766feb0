"""The access log: one line per HTTP request, on both transports (`RequestTelemetry` for the
FastAPI routes, `LeanEvaluate` for /evaluate), written as the request ends.

`pkg.access` event `http_request`: `method`, `route` (the template, `/snapshots/{version}`;
`unmatched` for paths no route serves, so probes cannot flood the field), `status`,
`duration_ms`, `caller` (the token's name once authorized, else null) and, from the request
context, `request_id`. Never the path's values, the query, the body, headers or tokens.
A 5xx answer is logged at error level; everything else at info (`PKG_LOG_LEVEL=WARNING` drops
them before anything is rendered).
"""

from __future__ import annotations

from typing import Final

from app.services.logs import get_logger
from app.services.request_context import current_caller

ACCESS_EVENT: Final = "http_request"
log = get_logger("pkg.access")


def log_access(method: str, route: str, status: int, seconds: float) -> None:
    """The one access line of a request (call it before the request context ends)."""
    (log.error if status >= 500 else log.info)(
        ACCESS_EVENT,
        method=method,
        route=route,
        status=status,
        duration_ms=round(seconds * 1e3, 3),
        caller=current_caller(),
    )
