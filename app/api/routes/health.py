"""Liveness, readiness, manager metadata and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.auth import ReaderRole
from app.api.deps import ManagerDep, MetricsDep
from app.api.errors import problem
from app.api.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Liveness: 200 while the process serves; `status` says whether it is degraded and why",
)
async def health(request: Request) -> dict[str, Any]:
    manager = getattr(request.app.state, "manager", None)
    if manager is None:
        return {
            "status": "starting",
            "healthy": False,
            "degraded_mode": True,
            "last_error": None,
            "active_version": None,
            "redis_connected": False,
            "db_connected": False,
        }
    status = manager.get_health_status()
    status["status"] = "degraded" if status["degraded_mode"] else "ok"
    status["stale"] = manager.stale
    if manager.stale:
        status["status"] = "degraded"
        status["last_error"] = manager.freshness.reason(manager.last_error)
    status["redis_expected"] = manager.feed_transport == "redis"
    status["wasm_runtime"] = wasm_runtime = getattr(request.app.state, "wasm_runtime", True)
    active = manager.get_active_evaluator()
    if not wasm_runtime and active is not None and active.engine_type == "wasm":
        # the active policy answers the seed's fallback envelope: say so
        status["status"] = "degraded"
        status["last_error"] = "wasmtime is not available: wasm policies answer wasm-fallback"
    return dict(status)


@router.get(
    "/health/ready",
    summary="Readiness: 200 only with an active evaluator, confirmed within PKG_MAX_STALENESS_S",
)
async def ready(request: Request) -> Response:
    manager = getattr(request.app.state, "manager", None)
    if manager is None or manager.get_active_evaluator() is None:
        return problem(503, "no active policy snapshot yet", instance="/health/ready")
    if manager.stale:  # PKG_MAX_STALENESS_S: take it out of the load balancer, say why
        reason = manager.freshness.reason(manager.last_error)
        return problem(503, reason, instance="/health/ready")
    return Response(b'{"ready":true}', media_type="application/json")


@router.get("/metadata", summary="What this replica serves and how it got there")
async def metadata(manager: ManagerDep, _role: ReaderRole) -> dict[str, Any]:
    return manager.get_metadata()


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type=metrics.content_type)
