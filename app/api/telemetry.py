"""Per request: a request id (the caller's `X-Request-ID`, or a new one) bound to every log
event of the request and echoed in the response, and HTTP metrics by route template and status.
Pure ASGI, so it costs a few microseconds, not a task. (Server spans are FastAPI's own, on when
tracing is configured.)"""

from __future__ import annotations

import time
from random import getrandbits
from typing import Any, Final

import re2
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.request_context import begin_request, end_request

REQUEST_ID_HEADER: Final = b"x-request-id"
_VALID_REQUEST_ID = re2.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED: Final = "unmatched"  # a path no route serves (keeps 404 probes out of the labels)


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(text):
                return text
            break
    return getrandbits(128).to_bytes(16, "big").hex()  # names a request, guards nothing


class RequestTelemetry:
    def __init__(self, app: ASGIApp, *, metrics: Any) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        echoed = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        method = scope["method"]
        tokens = begin_request(request_id)  # FastAPI's own server span covers routed requests
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe_request(method, route, status, elapsed)
            end_request(tokens)
