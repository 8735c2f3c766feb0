"""The console's pages that only read: overview, snapshots and their diff, the audit trail,
shadow lanes, decisions and live numbers (the playground and every change: actions.py)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from app.api.deps import DecisionLogDep, GovernanceDep, ManagerDep, MetricsDep, SettingsDep
from app.api.ui.access import ReaderDep
from app.api.ui.charts import share_chart
from app.api.ui.live import Sample, numbers, sample_of
from app.api.ui.render import ConsoleRoute, pages_of
from app.api.ui.rule_diff import diff_snapshots
from app.api.ui.views import ShadowHistory, env_states, promotion_rows, replicas
from app.domain.decision import DecisionRecord
from app.domain.document import ENVIRONMENTS, document_from_snapshot
from app.domain.errors import NotFoundError
from app.services.decision_log import DecisionLogNotStoredError
from app.services.guard import GuardedPromotions

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]
OUTCOMES = ("matched", "no_match", "error")


def history_of(request: Request) -> ShadowHistory:
    history: ShadowHistory = request.app.state.console_shadow_history
    return history


def guarded_of(request: Request) -> GuardedPromotions | None:
    return getattr(request.app.state, "guarded_promotions", None)


@router.get("")
async def root() -> Response:
    return RedirectResponse("/ui/", 307)


@router.get("/")
async def overview(
    request: Request,
    caller: ReaderDep,
    governance: GovernanceDep,
    manager: ManagerDep,
    settings: SettingsDep,
) -> Response:
    fleet = await replicas(governance, manager, heartbeat_s=settings.heartbeat_interval_s)
    return pages_of(request).render(
        request,
        "overview.html",
        page="overview",
        who=caller,
        envs=await env_states(governance),
        replicas=[r for r in fleet if r.live],
        silent=[r for r in fleet if not r.live],
        health=manager.get_health_status(),
        instance=manager.config.device_id,
        lanes=await governance.deployments(active_only=True),
    )


@router.get("/snapshots")
async def snapshots(
    request: Request, caller: ReaderDep, governance: GovernanceDep, q: Text = None, env: Text = None
) -> Response:
    rows = await governance.list_snapshots(env=env or None, limit=500)
    if q:
        needle = q.casefold()
        rows = [
            r
            for r in rows
            if any(needle in str(r.get(k) or "").casefold() for k in ("version", "notes", "engine"))
        ]
    return pages_of(request).render(
        request, "snapshots.html", page="snapshots", who=caller, rows=rows, q=q or "",
        env=env or "", envs=ENVIRONMENTS,
    )  # fmt: skip


@router.get("/snapshot")
async def snapshot(
    request: Request, caller: ReaderDep, governance: GovernanceDep, version: Text = None
) -> Response:
    if not version:
        raise NotFoundError("name a snapshot: /ui/snapshot?version=...")
    view = await governance.snapshot_view(version)
    document = document_from_snapshot(view.snapshot)
    others = [r["version"] for r in await governance.list_snapshots(limit=500)]
    return pages_of(request).render(
        request,
        "snapshot.html",
        page="snapshots",
        who=caller,
        snapshot=view.snapshot,
        summary=view.summary,
        rules=document["rules"],
        subtask_types=document["subtask_types"],
        fixtures=view.fixtures,
        runs=await governance.validation_runs(version=version, limit=20),
        others=[v for v in others if v != version],
    )


@router.get("/diff")
async def diff(
    request: Request, caller: ReaderDep, governance: GovernanceDep, a: Text = None, b: Text = None
) -> Response:
    if not a or not b:
        raise NotFoundError("name two snapshots: /ui/diff?a=...&b=...")
    changes = diff_snapshots(await governance.snapshot(a), await governance.snapshot(b))
    return pages_of(request).render(
        request, "diff.html", page="snapshots", who=caller, diff=changes
    )


@router.get("/promotions")
async def promotions(
    request: Request,
    caller: ReaderDep,
    governance: GovernanceDep,
    settings: SettingsDep,
    env: Text = None,
    done: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    env = env if env in ENVIRONMENTS else settings.env
    chain = await governance.verify_audit(env)
    candidates = [
        r["version"]
        for r in await governance.list_snapshots(env=env, limit=500)
        if not r.get("is_active")
    ]
    return pages_of(request).render(
        request,
        "promotions.html",
        page="promotions",
        who=caller,
        env=env,
        envs=ENVIRONMENTS,
        rows=await promotion_rows(governance, guarded_of(request), env=env),
        chain=chain,
        broken_row=(chain.get("first_break") or {}).get("row_id"),
        candidates=candidates,
        done=done,
    )


@router.get("/shadow")
async def shadow_lanes(request: Request, caller: ReaderDep, governance: GovernanceDep) -> Response:
    lanes = await governance.deployments(active_only=False)
    return pages_of(request).render(
        request,
        "shadow.html",
        page="shadow",
        who=caller,
        lanes=[lane for lane in lanes if lane.get("mode") == "shadow"],
    )


async def _lane_report(request: Request, governance: Any, deployment_id: int) -> dict[str, Any]:
    lane = await governance.deployment(deployment_id)
    shadow = getattr(request.app.state, "shadow", None)
    if shadow is None:
        raise NotFoundError("shadow lanes are not running yet")
    report: dict[str, Any] = await shadow.report(deployment_id, version=lane["version"])
    history_of(request).record(deployment_id, lane["version"], report["totals"])
    shares = history_of(request).shares(deployment_id, lane["version"])
    chart = share_chart(f"Divergence of lane {deployment_id} ({lane['version']})", shares)
    return {"lane": lane, "report": report, "chart": chart}


@router.get("/shadow/lane")
async def shadow_lane(
    request: Request,
    caller: ReaderDep,
    governance: GovernanceDep,
    lane: Annotated[int, Query(ge=1)],
) -> Response:
    context = await _lane_report(request, governance, lane)
    return pages_of(request).render(
        request, "shadow_lane.html", page="shadow", who=caller, **context
    )


@router.get("/shadow/lane/chart")
async def shadow_chart(
    request: Request,
    _caller: ReaderDep,
    governance: GovernanceDep,
    lane: Annotated[int, Query(ge=1)],
) -> Response:
    context = await _lane_report(request, governance, lane)
    return pages_of(request).render(request, "_shadow_live.html", **context)


@router.get("/decisions")
async def decisions(
    request: Request,
    caller: ReaderDep,
    decision_log: DecisionLogDep,
    decision_id: Annotated[str | None, Query(max_length=64)] = None,
    version: Text = None,
    outcome: Text = None,
) -> Response:
    context: dict[str, Any] = {"decision_id": decision_id or "", "version": version or ""}
    context |= {"outcome": outcome or "", "outcomes": OUTCOMES, "record": None, "records": []}
    context["stored"], context["missing"] = decision_log.enabled, None
    if caller.role == "admin":  # the API's rule: the decision log is the admin's to read
        try:
            context |= await _decision_context(decision_log, decision_id, version, outcome)
        except DecisionLogNotStoredError as exc:
            context["stored"], context["missing"] = False, str(exc)
    return pages_of(request).render(
        request, "decisions.html", page="decisions", who=caller, **context
    )


async def _decision_context(
    decision_log: Any, decision_id: str | None, version: str | None, outcome: str | None
) -> dict[str, Any]:
    context: dict[str, Any] = {"stored": True}
    if decision_id:
        try:
            record: DecisionRecord = await decision_log.get(decision_id.strip())
            context["record"] = record.as_dict()
        except DecisionLogNotStoredError:
            raise
        except NotFoundError as exc:
            context["missing"] = str(exc)
    records = await decision_log.query(version=version or None, limit=1000)
    rows = [r.as_dict() for r in records if not outcome or r.outcome == outcome]
    context["records"] = rows[:100]
    return context


@router.get("/live")
async def live(request: Request, caller: ReaderDep, metrics: MetricsDep) -> Response:
    figures = numbers(sample_of(metrics.render().decode(), at=time.time()), None)
    return pages_of(request).render(request, "live.html", page="live", who=caller, live=figures)


@router.get("/live/numbers")
async def live_numbers(request: Request, _caller: ReaderDep, metrics: MetricsDep) -> Response:
    before = Sample.from_query(request.query_params)
    figures = numbers(sample_of(metrics.render().decode(), at=time.time()), before)
    return pages_of(request).render(request, "_live_numbers.html", live=figures)
