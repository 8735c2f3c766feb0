"""POST /evaluate and /evaluate/batch: the hot path. Reads the evaluator once per request and
evaluates inline (microseconds: no thread hop), renders with orjson."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from app.api.auth import ReaderRole
from app.api.body import FACTS_BODY_SCHEMA, JSONResponse, read_facts
from app.api.deps import ManagerDep, MetricsDep, SettingsDep
from app.api.schemas import BatchRequest, BatchResponse, DecisionResponse
from app.domain.errors import FactsError
from app.services.evaluator import PKGEvaluator
from app.services.manager import PKGManager
from app.services.rollout import Route

router = APIRouter(tags=["evaluate"])

VersionQuery = Annotated[
    str | None, Query(description="Evaluate this stored version instead of the active one")
]
TargetQuery = Annotated[str | None, Query(description="Canary lane target, e.g. `router`")]
RegionQuery = Annotated[str | None, Query(description="Canary lane region")]
SubjectQuery = Annotated[
    str | None, Query(max_length=512, description="Stable caller key for canary bucketing")
]
EntrypointQuery = Annotated[
    str | None,
    Query(max_length=512, description="A wasm policy's entrypoint other than its default"),
]
ExplainQuery = Annotated[
    bool, Query(description="Add, per rule, which conditions held (slower; for debugging)")
]


async def _pick(
    manager: PKGManager,
    *,
    version: str | None,
    target: str | None,
    region: str | None,
    subject: str | None,
) -> tuple[PKGEvaluator, Route]:
    if version:
        return await manager.load_evaluator(version), Route("pinned", version=version)
    evaluator, route = await manager.route(target=target, region=region, subject=subject)
    if evaluator is None:
        raise HTTPException(503, "no active policy snapshot yet")
    return evaluator, route


def _decide(
    evaluator: PKGEvaluator,
    facts: dict[str, Any],
    route: Route,
    *,
    metrics: Any,
    explain: bool,
    max_depth: int,
    entrypoint: str | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    result = evaluator.evaluate(facts, max_facts_depth=max_depth, entrypoint=entrypoint)
    elapsed = time.perf_counter() - started
    metrics.observe_evaluation(evaluator.engine_type, elapsed)
    result["decision_id"] = uuid.uuid4().hex
    result["engine"] = evaluator.engine_type
    result["lane"] = route.lane
    result["deployment_id"] = route.deployment_id
    result["duration_ms"] = round(elapsed * 1e3, 4)
    if explain:
        result["explain"] = evaluator.explain(facts)
    return result


@router.post(
    "/evaluate",
    summary="Decide: the subtasks, their DAG and the rules that fired",
    response_model=None,
    responses={200: {"model": DecisionResponse}},
    openapi_extra=FACTS_BODY_SCHEMA,
)
async def evaluate(
    request: Request,
    manager: ManagerDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    _role: ReaderRole,
    version: VersionQuery = None,
    target: TargetQuery = None,
    region: RegionQuery = None,
    subject: SubjectQuery = None,
    explain: ExplainQuery = False,
    entrypoint: EntrypointQuery = None,
) -> Response:
    facts = await read_facts(request)
    evaluator, route = await _pick(
        manager, version=version, target=target, region=region, subject=subject
    )
    decision = _decide(
        evaluator,
        facts,
        route,
        metrics=metrics,
        explain=explain,
        max_depth=settings.max_facts_depth,
        entrypoint=entrypoint,
    )
    return JSONResponse(decision)


@router.post(
    "/evaluate/batch",
    summary="Decide for up to `PKG_MAX_BATCH_ITEMS` fact sets at once",
    response_model=BatchResponse,
)
async def evaluate_batch(
    body: BatchRequest,
    manager: ManagerDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    _role: ReaderRole,
    version: VersionQuery = None,
    target: TargetQuery = None,
    region: RegionQuery = None,
    subject: SubjectQuery = None,
) -> Response:
    if len(body.items) > settings.max_batch_items:
        raise HTTPException(413, f"items: at most {settings.max_batch_items} fact sets per batch")
    evaluator, route = await _pick(
        manager, version=version, target=target, region=region, subject=subject
    )
    decisions = []
    for index, facts in enumerate(body.items):
        try:
            decisions.append(
                _decide(
                    evaluator,
                    facts,
                    route,
                    metrics=metrics,
                    explain=False,
                    max_depth=settings.max_facts_depth,
                )
            )
        except FactsError as exc:
            raise FactsError(f"items[{index}].{exc.loc}", exc.msg) from exc
    return JSONResponse({"items": decisions})
