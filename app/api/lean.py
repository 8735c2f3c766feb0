"""The lean hot path: `POST /evaluate` and `POST /evaluate/batch` as one small ASGI handler.

A request through FastAPI passes seven middleware layers, route matching, dependency solving
and a response class before and after a decision that takes microseconds; under load that is
most of the server's time. `PKGApp` (app/entrypoints/http/app.py) hands these two paths to
`LeanEvaluate` before any of that runs. It does what the stack did, in the same order, through
the same functions, so statuses, bodies and headers are identical (tests/api/test_lean_evaluate.py):

1. body limit by Content-Length (413, as `BodySizeLimit`);
2. the manager (503 while starting), the bearer token (`authorize`: 401/403);
3. query parameters (`EvaluateQuery` / `BatchQuery`, 422 naming the field);
4. the body, counted while read (413), parsed with orjson (`parse_facts`) or `parse_batch`;
5. `evaluate_facts` / `evaluate_items` of app/api/evaluation.py (the per-decision hook
   point is `decide` there), rendered with orjson; any exception → `problem_for`.

The FastAPI routes stay registered: they document both paths in the OpenAPI schema, serve
them when `PKG_LEAN_EVALUATE=false`, and are the reference the tests compare against.
HTTP-level hooks for these two paths (request metrics, after-response work) go in
`LeanEvaluate.__call__`, the one place every lean request passes.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.types import Receive, Scope, Send

from app.api.access_log import log_access
from app.api.auth import authorize, bearer_token, is_loopback_host
from app.api.body import parse_facts, render
from app.api.errors import problem_for
from app.api.evaluation import evaluate_facts, evaluate_items, parse_batch
from app.api.limits import send_too_large
from app.api.schemas import BatchQuery, EvaluateQuery
from app.api.telemetry import REQUEST_ID_HEADER, EchoingSend, request_id_of
from app.domain.nesting import nesting_bound, text_depth
from app.services import tracing
from app.services.request_context import begin_request, end_request
from app.settings import Settings

EVALUATE: Final = "/evaluate"
BATCH: Final = "/evaluate/batch"
LEAN_PATHS: Final = frozenset({EVALUATE, BATCH})
_JSON_HEADER: Final = (b"content-type", b"application/json")
_NO_EVALUATE_QUERY: Final = EvaluateQuery()
_NO_BATCH_QUERY: Final = BatchQuery()
Q = TypeVar("Q", bound=BaseModel)


class BodyTooLargeError(Exception):
    pass


class ClientGoneError(Exception):
    pass


class LeanEvaluate:
    """The ASGI handler for `LEAN_PATHS` (POST only; anything else goes through FastAPI).

    It is its own telemetry: the request id (echoed), the log context, the server span when
    tracing is on and the HTTP metrics, as `RequestTelemetry` does for routed requests."""

    def __init__(self, app: FastAPI) -> None:
        self.state = app.state
        self.settings: Settings = app.state.settings  # both fixed for the app's lifetime
        self.metrics: Any = app.state.metrics

    @staticmethod
    def handles(scope: Scope) -> bool:
        return scope["type"] == "http" and scope["path"] in LEAN_PATHS and scope["method"] == "POST"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        request_id = request_id_of(scope["headers"])
        echoed = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        context = begin_request(request_id)
        span = tracing.start_server_span("POST", path, scope["headers"])
        started = perf_counter()
        status = 500  # until an answer starts (a client that left gets none)
        try:
            try:
                body = await self._answer(scope, receive, batch=path == BATCH)
            except ClientGoneError:
                return
            except Exception as exc:
                status = await self._refuse(exc, scope, receive, send, echoed)
                return
            headers = [(b"content-length", b"%d" % len(body)), _JSON_HEADER, echoed]
            status = 200
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = perf_counter() - started
            self.metrics.observe_request("POST", path, status, elapsed)
            log_access("POST", path, status, elapsed)
            tracing.end_server_span(span, status=status)
            end_request(context)

    async def _refuse(
        self,
        exc: Exception,
        scope: Scope,
        receive: Receive,
        send: Send,
        echoed: tuple[bytes, bytes],
    ) -> int:
        """Answer an error as the routed stack does; return its status."""
        send_with_id = EchoingSend(send, echoed)
        path: str = scope["path"]
        if isinstance(exc, BodyTooLargeError):
            max_bytes = self.settings.max_body_bytes
            await send_too_large(send_with_id, max_bytes=max_bytes, path=path)
        else:
            await problem_for(exc, path)(scope, receive, send_with_id)
        return send_with_id.status

    async def _answer(self, scope: Scope, receive: Receive, *, batch: bool) -> bytes:
        state, settings = self.state, self.settings
        max_bytes = settings.max_body_bytes
        authorization, declared = _headers(scope)
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise BodyTooLargeError
        manager = state.manager
        if manager is None:
            raise HTTPException(503, "the service is starting")
        client = scope.get("client")
        loopback = is_loopback_host(client[0] if client else None)
        role = authorize(settings, bearer_token(authorization), "evaluator", loopback=loopback)
        query_string: bytes = scope.get("query_string", b"")
        max_depth = settings.max_facts_depth
        if batch:
            batch_query = _query(query_string, BatchQuery, _NO_BATCH_QUERY)
            raw = await _read_body(receive, max_bytes)
            result = await evaluate_items(
                manager,
                parse_batch(raw, max_items=settings.max_batch_items),
                batch_query,
                metrics=self.metrics,
                settings=settings,
                shadow=state.shadow,
                decision_log=state.decision_log,
                role=role,
                # items sit two levels down ({"items": [item, ...]}); a batch body mostly has
                # more brackets than the limit, so counting them first would be wasted
                nesting_at_most=text_depth(raw, limit=max_depth + 2) - 2,
            )
        else:
            query = _query(query_string, EvaluateQuery, _NO_EVALUATE_QUERY)
            raw = await _read_body(receive, max_bytes)
            result = await evaluate_facts(
                manager,
                parse_facts(raw),
                query,
                metrics=self.metrics,
                settings=settings,
                shadow=state.shadow,
                decision_log=state.decision_log,
                role=role,
                nesting_at_most=nesting_bound(raw, max_depth),
            )
        return render(result)


def _headers(scope: Scope) -> tuple[str | None, bytes | None]:
    """The first Authorization header (as Starlette reads it) and the last Content-Length (as
    `BodySizeLimit` reads it)."""
    authorization: str | None = None
    declared: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"content-length":
            declared = value
    return authorization, declared


def _query(query_string: bytes, model: type[Q], default: Q) -> Q:
    if not query_string:
        return default
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


async def _read_body(receive: Receive, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLargeError
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
