"""What a route gets from the app: read once per request through one Annotated alias each.

All `async def`: FastAPI runs a plain `def` dependency in the thread pool, a thread hop per
request for a dict lookup."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from app.services.governance import Governance
from app.services.manager import PKGManager
from app.settings import Settings


async def get_manager(request: Request) -> PKGManager:
    manager: PKGManager | None = getattr(request.app.state, "manager", None)
    if manager is None:
        raise HTTPException(503, "the service is starting")
    return manager


async def get_governance(request: Request) -> Governance:
    governance: Governance | None = getattr(request.app.state, "governance", None)
    if governance is None:
        raise HTTPException(503, "the service is starting")
    return governance


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Any:
    return request.app.state.metrics


ManagerDep = Annotated[PKGManager, Depends(get_manager)]
GovernanceDep = Annotated[Governance, Depends(get_governance)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Any, Depends(get_metrics)]
