"""Canary lanes: which snapshot serves a caller (DESIGN.md §6).

A lane (target, region) routes `percent` % of callers to its snapshot. A caller's bucket is
`mmh3.hash("<deployment_id>:<subject>", 0, signed=False) % 100 + 1`; it is in the canary when
bucket <= percent. Without a subject a caller is in the canary only at 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import mmh3

GLOBAL_REGION = "global"


@dataclass(frozen=True)
class Route:
    lane: str  # "active" | "canary"
    version: str | None = None  # None: the active snapshot
    deployment_id: int | None = None
    bucket: int | None = None

    @classmethod
    def stable(cls) -> Route:
        return cls("active")


def bucket_of(deployment_id: int, key: str) -> int:
    return int(mmh3.hash(f"{deployment_id}:{key}", 0, signed=False)) % 100 + 1


def matching_lane(
    deployments: Iterable[Mapping[str, Any]], *, target: str, region: str | None
) -> Mapping[str, Any] | None:
    """The active lane for (target, region): an exact region beats a `global` lane."""
    best: Mapping[str, Any] | None = None
    for lane in deployments:
        if not lane.get("is_active", True) or lane.get("target") != target:
            continue
        lane_region = lane.get("region") or GLOBAL_REGION
        if region is not None and lane_region == region:
            return lane
        if lane_region == GLOBAL_REGION and best is None:
            best = lane
    return best


def choose_route(
    deployments: Iterable[Mapping[str, Any]],
    *,
    target: str | None,
    region: str | None,
    subject: str | None,
) -> Route:
    if not target:
        return Route.stable()
    lane = matching_lane(deployments, target=target, region=region)
    if lane is None:
        return Route.stable()
    percent = int(lane.get("percent") or 0)
    deployment_id = int(lane["id"])
    if subject:
        bucket = bucket_of(deployment_id, subject)
        in_canary = bucket <= percent
    else:
        bucket, in_canary = None, percent >= 100
    if not in_canary:
        return Route("active", deployment_id=deployment_id, bucket=bucket)
    version = lane.get("snapshot_version") or lane.get("version")
    return Route("canary", version=version, deployment_id=deployment_id, bucket=bucket)
