"""Canary lanes (deployments), device telemetry, and the replicas of the fleet."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from app.api.auth import AdminRole, ReaderRole
from app.api.deps import GovernanceDep, SettingsDep
from app.api.schemas import (
    MAX_ID,
    DeploymentPatch,
    DeploymentRequest,
    DeploymentResponse,
    HeartbeatRequest,
)
from app.services.fleet import FleetWindows, fleet_report

router = APIRouter(tags=["fleet"])
DeviceId = Annotated[str, Path(min_length=1, max_length=200, examples=["door:D-1510"])]


@router.get("/deployments", response_model=list[DeploymentResponse])
async def list_deployments(
    governance: GovernanceDep,
    _role: ReaderRole,
    target: str | None = None,
    region: str | None = None,
    active_only: bool = True,
) -> list[dict[str, Any]]:
    return await governance.deployments(target=target, region=region, active_only=active_only)


@router.post(
    "/deployments",
    status_code=201,
    response_model=DeploymentResponse,
    summary="Open a lane: route (canary) or shadow `percent` % of a target/region to a version",
)
async def create_deployment(
    body: DeploymentRequest, governance: GovernanceDep, _role: AdminRole
) -> dict[str, Any]:
    return await governance.create_deployment(
        snapshot_version=body.version,
        target=body.target,
        region=body.region,
        percent=body.percent,
        is_active=body.is_active,
        mode=body.mode,
    )


@router.patch("/deployments/{deployment_id}", response_model=DeploymentResponse)
async def update_deployment(
    deployment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: DeploymentPatch,
    governance: GovernanceDep,
    _role: AdminRole,
) -> dict[str, Any]:
    return await governance.update_deployment(
        deployment_id,
        percent=body.percent,
        is_active=body.is_active,
        snapshot_version=body.version,
        mode=body.mode,
    )


@router.get("/deployments/coverage", summary="Devices on each lane's snapshot vs all devices")
async def coverage(
    governance: GovernanceDep,
    _role: ReaderRole,
    target: str | None = None,
    region: str | None = None,
) -> list[dict[str, Any]]:
    return await governance.coverage(target=target, region=region)


@router.post(
    "/devices/{device_id}/heartbeat",
    status_code=204,
    summary="A device reports which snapshot it runs",
)
async def heartbeat(
    device_id: DeviceId, body: HeartbeatRequest, governance: GovernanceDep, _role: ReaderRole
) -> Response:
    await governance.heartbeat(
        device_id,
        device_type=body.device_type,
        snapshot_id=body.snapshot_id,
        version=body.version,
        region=body.region,
    )
    return Response(status_code=204)


@router.get("/devices", summary="Device telemetry")
async def list_devices(
    governance: GovernanceDep,
    _role: ReaderRole,
    device_type: str | None = None,
    region: str | None = None,
    version: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    return await governance.devices(
        device_type=device_type, region=region, version=version, limit=limit
    )


@router.get(
    "/fleet",
    summary="Every live replica: the version it serves, when it last confirmed it, its lag",
)
async def fleet(
    governance: GovernanceDep,
    settings: SettingsDep,
    _role: ReaderRole,
    env: str | None = None,
    version: Annotated[
        str | None, Query(description="A version being rolled out: its env, by default")
    ] = None,
    all: Annotated[
        bool, Query(description="Also the replicas outside PKG_FLEET_LIVE_WINDOW_S")
    ] = False,
) -> dict[str, Any]:
    windows = FleetWindows.of(
        live_window_s=settings.fleet_live_window_s,
        max_staleness_s=settings.max_staleness_s,
        reconcile_interval_s=settings.reconcile_interval_s,
        heartbeat_interval_s=settings.heartbeat_interval_s,
    )
    return await fleet_report(
        governance.store, windows=windows, env=env, version=version, include_gone=all
    )
