"""POST /evaluate and /evaluate/batch as FastAPI routes: the transport only.

What a decision is — choosing the evaluator, the decision envelope, the batch's validation and
limits, the per-decision hooks — lives in app/api/evaluation.py, which these routes and the
lean handler (app/api/lean.py, the production path) both call; a change there reaches both,
and tests/api/test_lean_evaluate.py holds their answers byte-identical. These routes document
the two endpoints in the OpenAPI schema and serve them with `PKG_LEAN_EVALUATE=false`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app.api.auth import ReaderRole
from app.api.body import FACTS_BODY_SCHEMA, JSONResponse, read_facts
from app.api.deps import DecisionLogDep, ManagerDep, MetricsDep, SettingsDep, ShadowDep
from app.api.evaluation import evaluate_facts, evaluate_items, parse_batch
from app.api.schemas import BatchQuery, BatchRequest, BatchResponse, DecisionResponse, EvaluateQuery
from app.services.manager import PKGManager
from app.settings import Settings

router = APIRouter(tags=["evaluate"])
BATCH_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": BatchRequest.model_json_schema()}},
    }
}


@dataclass(frozen=True)
class Deciding:
    """What both routes hand to `evaluate_facts` / `evaluate_items` besides the input."""

    manager: PKGManager
    settings: Settings
    options: dict[str, Any]  # their keyword arguments (`settings` among them)


async def deciding(
    manager: ManagerDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    shadow: ShadowDep,
    decision_log: DecisionLogDep,
    caller: ReaderRole,
) -> Deciding:
    options = {"metrics": metrics, "settings": settings, "shadow": shadow}
    options |= {"decision_log": decision_log, "role": caller.role}
    return Deciding(manager, settings, options)


DecidingDep = Annotated[Deciding, Depends(deciding)]


@router.post(
    "/evaluate",
    summary="Decide: the subtasks, their DAG and the rules that fired",
    response_model=None,
    responses={200: {"model": DecisionResponse}},
    openapi_extra=FACTS_BODY_SCHEMA,
)
async def evaluate(
    request: Request, deciding: DecidingDep, query: Annotated[EvaluateQuery, Query()]
) -> Response:
    facts = await read_facts(request)
    decision = await evaluate_facts(deciding.manager, facts, query, **deciding.options)
    return JSONResponse(decision)


@router.post(
    "/evaluate/batch",
    summary="Decide for up to `PKG_MAX_BATCH_ITEMS` fact sets at once",
    response_model=None,
    responses={200: {"model": BatchResponse}},
    openapi_extra=BATCH_BODY_SCHEMA,
)
async def evaluate_batch(
    request: Request, deciding: DecidingDep, query: Annotated[BatchQuery, Query()]
) -> Response:
    items = parse_batch(await request.body(), max_items=deciding.settings.max_batch_items)
    result = await evaluate_items(deciding.manager, items, query, **deciding.options)
    return JSONResponse(result)
