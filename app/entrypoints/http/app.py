"""The ASGI app: `uvicorn app.main:app`, or `create_app(settings)` in tests."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.adapters.observability.metrics import PrometheusMetrics
from app.api.auth import table_for
from app.api.errors import install_error_handlers
from app.api.lean import LeanEvaluate
from app.api.limits import BodySizeLimit
from app.api.openapi import install_openapi
from app.api.routes import (
    coverage,
    decisions,
    evaluate,
    fleet,
    governance,
    health,
    replay,
    schemas,
    shadow,
    snapshots,
)
from app.api.telemetry import RequestTelemetry
from app.api.ui import install_console
from app.entrypoints.composition import install_defaults
from app.entrypoints.http.lifespan import lifespan
from app.services.decision_log import DecisionLog
from app.settings import Settings

DESCRIPTION = """
PKG decides which subtasks a task needs, in which order, and why: POST task facts to
`/evaluate`. Policies are versioned snapshots, validated against fixtures, promoted with an
audit trail, canaried by percentage, and hot-swapped on every replica within milliseconds.

Auth: `Authorization: Bearer <token>`; `admin` tokens may write, `evaluator` tokens may
evaluate and read. Errors are RFC 7807 `application/problem+json`.
"""


class PKGApp(FastAPI):
    """FastAPI, with `POST /evaluate` and `/evaluate/batch` answered by the lean handler
    (app/api/lean.py) ahead of the middleware stack, unless `PKG_LEAN_EVALUATE=false`."""

    lean_evaluate: LeanEvaluate | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lean = self.lean_evaluate
        if lean is not None and lean.handles(scope):
            scope["app"] = self
            await lean(scope, receive, send)  # its own telemetry: request id, metrics, span
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> PKGApp:
    install_defaults()  # the engines and feed adapters PKG ships, explicitly (composition/)
    app = PKGApp(
        title="PKG policy decision service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # install_openapi serves /docs and /redoc from local assets
        redoc_url=None,
    )
    app.state.settings = settings or Settings()
    app.state.tokens = table_for(app.state.settings)
    app.state.metrics = PrometheusMetrics()
    app.state.manager = None
    app.state.governance = None
    app.state.shadow = None
    app.state.decision_log = DecisionLog(metrics=app.state.metrics)  # counts; logs once started
    install_error_handlers(app)
    routers = (evaluate, snapshots, governance, fleet, health, schemas, shadow, decisions, replay)
    for module in routers:
        app.include_router(module.router)
    app.include_router(coverage.router)  # production coverage and diffs (issue 25)
    if app.state.settings.ui:
        install_console(app)  # /ui (docs/console.md): its own route class, no middleware
    install_openapi(app)
    app.add_middleware(BodySizeLimit, max_bytes=app.state.settings.max_body_bytes)
    app.add_middleware(RequestTelemetry, metrics=app.state.metrics)  # outermost: sees every 413
    if app.state.settings.lean_evaluate:
        app.lean_evaluate = LeanEvaluate(app)
    return app
