"""What a route gets from the app: read once per request through one Annotated alias each.

All `async def`: FastAPI runs a plain `def` dependency in the thread pool, a thread hop per
request for a dict lookup."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from app.services.coverage import RuleTally
from app.services.decision_log import DecisionLog
from app.services.governance import Governance
from app.services.guard import GuardedPromotions
from app.services.manager import PKGManager
from app.services.replay import Replay
from app.services.shadow import ShadowRunner
from app.settings import Settings


def _started(request: Request, name: str) -> Any:
    """A part the lifespan puts on `app.state`; 503 until it is there."""
    part = getattr(request.app.state, name, None)
    if part is None:
        raise HTTPException(503, "the service is starting")
    return part


async def get_manager(request: Request) -> PKGManager:
    manager: PKGManager = _started(request, "manager")
    return manager


async def get_governance(request: Request) -> Governance:
    governance: Governance = _started(request, "governance")
    return governance


def get_shadow(request: Request) -> ShadowRunner:
    shadow: ShadowRunner = _started(request, "shadow")
    return shadow


def get_guarded_promotions(request: Request) -> GuardedPromotions:
    guarded: GuardedPromotions = _started(request, "guarded_promotions")
    return guarded


async def get_rule_tally(request: Request) -> RuleTally:
    tally: RuleTally = _started(request, "rule_tally")
    return tally


async def get_replay(request: Request) -> Replay:
    replay: Replay = _started(request, "replay")
    return replay


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Any:
    return request.app.state.metrics


def get_decision_log(request: Request) -> DecisionLog:
    decision_log: DecisionLog = request.app.state.decision_log
    return decision_log


ManagerDep = Annotated[PKGManager, Depends(get_manager)]
GovernanceDep = Annotated[Governance, Depends(get_governance)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ShadowDep = Annotated[ShadowRunner, Depends(get_shadow)]
GuardedPromotionsDep = Annotated[GuardedPromotions, Depends(get_guarded_promotions)]
MetricsDep = Annotated[Any, Depends(get_metrics)]
DecisionLogDep = Annotated[DecisionLog, Depends(get_decision_log)]
RuleTallyDep = Annotated[RuleTally, Depends(get_rule_tally)]
ReplayDep = Annotated[Replay, Depends(get_replay)]
