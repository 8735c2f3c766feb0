"""Every error leaves as RFC 7807 `application/problem+json`, mapped here and only here."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.api.field_errors import readable, summary
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
from app.services.logs import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger("pkg.api")


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


def problem_for(
    exc: Exception, instance: str, *, body_model: type[BaseModel] | None = None
) -> ProblemResponse:
    """The problem+json answer for any exception a request raised (the app's handlers and the
    lean /evaluate handler both answer through this). A validation error reads in the caller's
    terms (`field_errors.readable`); `body_model` is the route's body, to name known fields."""
    if isinstance(exc, RequestValidationError):
        errors = readable(exc.errors(), body_model=body_model)
        return problem(422, summary(errors), errors=list(errors), instance=instance)
    if isinstance(exc, StarletteHTTPException):
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, str(exc.detail), instance=instance, headers=headers)
    status = next((DOMAIN_STATUS[t] for t in type(exc).__mro__ if t in DOMAIN_STATUS), None)
    if status is not None:
        return _domain_problem(exc, status, instance)
    log.error("unhandled_error", path=instance, error_type=type(exc).__name__, error=str(exc))
    return problem(500, "internal error; see the server log", instance=instance)


def _domain_problem(exc: Exception, status: int, instance: str) -> ProblemResponse:
    errors = None
    if isinstance(exc, DocumentError | FactsError):  # each carries every problem found
        errors = [e.as_dict() for e in exc.errors]
    headers = {"Retry-After": "5"} if status == 503 else None
    return problem(status, str(exc), errors=errors, instance=instance, headers=headers)


async def _handle(request: Request, exc: Exception) -> Response:
    return problem_for(exc, request.url.path, body_model=_body_model(request))


def _body_model(request: Request) -> type[BaseModel] | None:
    route = request.scope.get("route")
    field = route.body_field if isinstance(route, APIRoute) else None
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _handle)
    app.add_exception_handler(StarletteHTTPException, _handle)
    for exc_type in DOMAIN_STATUS:
        app.add_exception_handler(exc_type, _handle)
    app.add_exception_handler(Exception, _handle)
