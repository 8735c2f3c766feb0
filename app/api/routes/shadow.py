"""Issue 11's routes: compare two versions on the same facts, and read a shadow lane."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query
from pydantic import Field

from app.api.auth import ReaderRole
from app.api.deps import GovernanceDep, GuardedPromotionsDep, SettingsDep, ShadowDep
from app.api.schemas import MAX_ID
from app.api.shadow_schemas import CompareRequest, CompareResponse, GuardResponse, ShadowReport
from app.domain.errors import NotFoundError
from app.services.compare import compare_versions

router = APIRouter(tags=["shadow"])
VersionPath = Annotated[str, Path(min_length=1, max_length=200)]
CompareBody = Annotated[
    CompareRequest | Annotated[list[dict[str, Any]], Field(min_length=1)],
    Body(
        description='`{"items": [facts, ...]}`, `{"fixtures_of": version}`, or a bare list '
        "of fact sets",
        examples=[{"items": [{"tags": ["vip"], "signals": {"urgency": 0.9}}]}],
    ),
]


@router.post(
    "/snapshots/{a}/compare/{b}",
    response_model=CompareResponse,
    summary="Decide the same facts on two versions: per input, whether and how they differ",
)
async def compare(
    a: VersionPath,
    b: VersionPath,
    body: CompareBody,
    governance: GovernanceDep,
    settings: SettingsDep,
    _role: ReaderRole,
) -> dict[str, Any]:
    request = CompareRequest(items=body) if isinstance(body, list) else body
    if request.items is not None and len(request.items) > settings.max_batch_items:
        raise HTTPException(
            413, f"items: at most {settings.max_batch_items} fact sets per comparison"
        )
    return await compare_versions(
        governance,
        a,
        b,
        items=request.items,
        fixtures_of=request.fixtures_of,
        max_items=max(settings.max_batch_items, 1000),
        max_facts_depth=settings.max_facts_depth,
    )


@router.get(
    "/deployments/{deployment_id}/shadow",
    response_model=ShadowReport,
    summary="A shadow lane's fleet-wide totals, divergence and newest differing examples",
)
async def shadow_report(
    deployment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    governance: GovernanceDep,
    shadow: ShadowDep,
    _role: ReaderRole,
    version: Annotated[
        str | None, Query(description="Another shadow version this lane ran (default: its own)")
    ] = None,
) -> dict[str, Any]:
    lane = await governance.deployment(deployment_id)
    report = await shadow.report(deployment_id, version=version or lane["version"])
    return {
        **report,
        "deployment_id": deployment_id,
        "mode": lane.get("mode", "canary"),
        "percent": lane["percent"],
    }


@router.get(
    "/promotions/{promotion_id}/guard",
    response_model=GuardResponse,
    summary="A watched promotion's guard: watching, passed, rolled_back or superseded",
)
async def read_guard(
    promotion_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    guarded: GuardedPromotionsDep,
    _role: ReaderRole,
) -> dict[str, Any]:
    guard = await guarded.guard(promotion_id)
    if guard is None:
        raise NotFoundError(f"promotion {promotion_id} has no watch guard")
    return guard
