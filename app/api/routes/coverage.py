"""Issue 25's reviewer routes: production coverage of a version (which rules fired across the
fleet, and which never did), and the static diff of two versions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from app.api.auth import ReaderRole
from app.api.coverage_schemas import ProductionCoverageResponse, SnapshotDiffResponse
from app.api.deps import GovernanceDep, RuleTallyDep
from app.domain.diff_report import render
from app.services.coverage import SINCE_PATTERN, parse_since, production_report
from app.services.diff import diff_versions

router = APIRouter(tags=["coverage"])
VersionPath = Annotated[str, Path(min_length=1, max_length=200)]
MEDIA_TYPES = {"markdown": "text/markdown; charset=utf-8", "text": "text/plain; charset=utf-8"}


@router.get(
    "/snapshots/{version}/coverage",
    response_model=ProductionCoverageResponse,
    summary="Production coverage: how often each rule fired across the fleet, and which never did",
)
async def production_coverage(
    version: VersionPath,
    governance: GovernanceDep,
    tally: RuleTallyDep,
    _role: ReaderRole,
    since: Annotated[
        str,
        Query(
            pattern=SINCE_PATTERN,
            description="The window, back from now: 90s, 30m, 24h, 7d, 2w",
            examples=["24h"],
        ),
    ] = "24h",
) -> dict[str, Any]:
    return await production_report(governance, tally, version, since=parse_since(since))


@router.get(
    "/snapshots/{a}/diff/{b}",
    response_model=SnapshotDiffResponse,
    summary="What changed from version a to b: rules, subtask types, fixtures (nothing evaluated)",
    responses={200: {"content": {"text/markdown": {}, "text/plain": {}}}},
)
async def snapshot_diff(
    a: VersionPath,
    b: VersionPath,
    governance: GovernanceDep,
    _role: ReaderRole,
    format: Annotated[  # the query parameter's name (shadows the builtin here only)
        Literal["json", "markdown", "text"],
        Query(description="json, or markdown for a pull-request comment, or text"),
    ] = "json",
) -> Any:
    diff = await diff_versions(governance, a, b)
    if format == "json":
        return diff
    return Response(render(diff, format), media_type=MEDIA_TYPES[format])
