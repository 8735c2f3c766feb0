"""Every error leaves as RFC 7807 `application/problem+json`, mapped here and only here."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.domain.errors import (
    ChecksumMismatchError,
    ConflictError,
    DocumentError,
    EngineLoadError,
    FactsError,
    NotFoundError,
    PromotionRefusedError,
    SignatureError,
    StoreUnavailableError,
    UnknownEngineError,
)

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("pkg.api")


class ProblemResponse(Response):
    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


def _loc(parts: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "rules", 2, "op")` → `rules[2].op` (the `body`/`query` prefix is dropped)."""
    out = ""
    for part in parts[1:] if parts and parts[0] in ("body", "query", "path") else parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


# status for each domain error: one table, not a chain of handlers
DOMAIN_STATUS: dict[type[Exception], int] = {
    DocumentError: 422,
    FactsError: 422,
    UnknownEngineError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    PromotionRefusedError: 409,
    ChecksumMismatchError: 409,
    EngineLoadError: 422,
    StoreUnavailableError: 503,
    SignatureError: 422,
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": _loc(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
        return problem(422, detail or "invalid request", errors=errors, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, str(exc.detail), instance=request.url.path, headers=headers)

    for exc_type, status in DOMAIN_STATUS.items():
        app.add_exception_handler(exc_type, _domain_handler(status))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error(
            "unhandled_error", path=request.url.path, error_type=type(exc).__name__, error=str(exc)
        )
        return problem(500, "internal error; see the server log", instance=request.url.path)


def _domain_handler(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        errors = None
        if isinstance(exc, DocumentError):
            errors = [e.as_dict() for e in exc.errors]
        elif isinstance(exc, FactsError):
            errors = [{"loc": exc.loc, "msg": exc.msg}]
        headers = {"Retry-After": "5"} if status == 503 else None
        return problem(status, str(exc), errors=errors, instance=request.url.path, headers=headers)

    return handle
