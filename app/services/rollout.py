"""Canary and shadow lanes: which snapshot serves a caller, and which one shadows it
(DESIGN.md §6, issue 11).

A canary lane (target, region) routes `percent` % of callers to its snapshot. A caller's bucket
is `mmh3.hash("<deployment_id>:<subject>", 0, signed=False) % 100 + 1`; it is in the canary when
bucket <= percent. Without a subject a caller is in the canary only at 100 %.

A shadow lane never changes who answers: a sampled `percent` % of its matching requests is
also evaluated on the lane's snapshot, after the answer (app/services/shadow.py). A request with
a subject is sampled by the same bucket (a caller is always or never shadowed); one without is
sampled at random.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import mmh3

GLOBAL_REGION = "global"
CANARY, SHADOW = "canary", "shadow"
LANE_MODES = (CANARY, SHADOW)


@dataclass(frozen=True)
class Route:
    lane: str  # "active" | "canary"
    version: str | None = None  # None: the active snapshot
    deployment_id: int | None = None
    bucket: int | None = None
    shadow_version: str | None = None  # also evaluate this version, after the answer
    shadow_deployment_id: int | None = None

    @classmethod
    def stable(cls) -> Route:
        return STABLE


STABLE: Final = Route("active")  # frozen: one instance serves every request without a lane


def bucket_of(deployment_id: int, key: str) -> int:
    return int(mmh3.hash(f"{deployment_id}:{key}", 0, signed=False)) % 100 + 1


def matching_lane(
    deployments: Iterable[Mapping[str, Any]],
    *,
    target: str,
    region: str | None,
    mode: str = CANARY,
) -> Mapping[str, Any] | None:
    """The active lane of `mode` for (target, region): an exact region beats a `global` lane."""
    best: Mapping[str, Any] | None = None
    for lane in deployments:
        if not lane.get("is_active", True) or lane.get("target") != target:
            continue
        if (lane.get("mode") or CANARY) != mode:
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
    sample: Callable[[], float] = random.random,
) -> Route:
    if not target:
        return Route.stable()
    lanes = list(deployments)
    route = _canary_route(lanes, target=target, region=region, subject=subject)
    shadow = matching_lane(lanes, target=target, region=region, mode=SHADOW)
    if shadow is None or not _sampled(shadow, subject=subject, sample=sample):
        return route
    version = shadow.get("snapshot_version") or shadow.get("version")
    return replace(route, shadow_version=version, shadow_deployment_id=int(shadow["id"]))


def _sampled(lane: Mapping[str, Any], *, subject: str | None, sample: Callable[[], float]) -> bool:
    percent = int(lane.get("percent") or 0)
    if subject:
        return bucket_of(int(lane["id"]), subject) <= percent
    return sample() * 100 < percent


def _canary_route(
    lanes: list[Mapping[str, Any]], *, target: str, region: str | None, subject: str | None
) -> Route:
    lane = matching_lane(lanes, target=target, region=region)
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
