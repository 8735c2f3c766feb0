"""Pages: the Jinja environment (autoescape on everywhere, SVG included), the security headers
every console answer carries, and the route class that turns any error into an HTML page."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.api.errors import DOMAIN_STATUS
from app.api.ui.session import LoginRequired, Session, SessionKeeper
from app.services.logs import get_logger

log = get_logger("pkg.console")
HERE: Final = Path(__file__).parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NAV: Final = (
    ("overview", "/ui/", "Overview"),
    ("snapshots", "/ui/snapshots", "Snapshots"),
    ("promotions", "/ui/promotions", "Promotions"),
    ("shadow", "/ui/shadow", "Shadow lanes"),
    ("decisions", "/ui/decisions", "Decisions"),
    ("playground", "/ui/playground", "Playground"),
    ("live", "/ui/live", "Live numbers"),
)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _when(value: Any) -> str:
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "—" if value is None else str(value)


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f} %"


def _query(values: Mapping[str, Any]) -> str:
    return urlencode({k: v for k, v in values.items() if v is not None and v != ""})


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, .svg fragments too: a rule named <script> is text
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pretty=_pretty, when=_when, percent=_percent, q=_query, path=quote)
    env.globals["nav"] = NAV
    return env


class Pages:
    """Renders templates with what every page needs: the session's CSRF token and the caller."""

    def __init__(self, keeper: SessionKeeper) -> None:
        self.keeper = keeper
        self.environment = build_environment()

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        session: Session | None = None,
        **context: Any,
    ) -> HTMLResponse:
        session = session or request.state.console_session
        body = self.environment.get_template(template).render(
            csrf=self.keeper.csrf_token(session), request=request, **context
        )
        response = HTMLResponse(body, status_code=status)
        if session.fresh:
            self.keeper.write(response, session, request)
        return response


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.console_pages
    return pages


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def status_of(exc: Exception) -> int:
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 422
    return next((DOMAIN_STATUS[t] for t in type(exc).__mro__ if t in DOMAIN_STATUS), 500)


def error_page(request: Request, exc: Exception) -> Response:
    status = status_of(exc)
    if status == 500:
        log.error("console_error", path=request.url.path, error_type=type(exc).__name__)
        detail = "internal error; see the server log"
    elif isinstance(exc, HTTPException):
        detail = str(exc.detail)
    elif isinstance(exc, RequestValidationError):
        detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
    else:
        detail = str(exc)
    title = HTTPStatus(status).phrase
    return pages_of(request).render(
        request, "error.html", status=status, title=title, detail=detail, page=None, who=None
    )


class ConsoleRoute(APIRoute):
    """Every console route: its session read once, errors as pages, the security headers on
    every answer. A route class rather than middleware, so nothing runs on any other path."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            pages = pages_of(request)
            request.state.console_session = pages.keeper.read(request)
            try:
                response = await handler(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/ui/login?{urlencode({'next': target})}", 303)
            except Exception as exc:
                response = error_page(request, exc)
            return secure(response)

        return run
