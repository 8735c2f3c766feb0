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

from app.api.access_log import log_access
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


class EchoingSend:
    """`send`, appending the request id header to the response start and noting its status
    (500 until one starts)."""

    __slots__ = ("echoed", "send", "status")

    def __init__(self, send: Send, echoed: tuple[bytes, bytes]) -> None:
        self.send = send
        self.echoed = echoed
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message["headers"] = [*message.get("headers", ()), self.echoed]
        await self.send(message)


class RequestTelemetry:
    def __init__(self, app: ASGIApp, *, metrics: Any) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        send_with_id = EchoingSend(send, (REQUEST_ID_HEADER, request_id.encode("latin-1")))
        method = scope["method"]
        tokens = begin_request(request_id)  # FastAPI's own server span covers routed requests
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe_request(method, route, send_with_id.status, elapsed)
            log_access(method, route, send_with_id.status, elapsed)
            end_request(tokens)
