"""GET /decisions/{decision_id} and GET /decisions: the decision log, read back (admin; only
when `PKG_DECISION_LOG=database`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.api.auth import AdminRole
from app.api.deps import DecisionLogDep
from app.services.decision_log import MAX_QUERY_LIMIT

router = APIRouter(tags=["decisions"])


class DecisionRecordResponse(BaseModel):
    decision_id: str
    time: datetime
    env: str
    version: str | None
    engine: str | None
    lane: str | None
    deployment_id: int | None
    input: Any
    rules: list[str]
    subtasks: list[str]
    duration_ms: float | None
    outcome: str
    role: str | None
    caller: str | None = None
    instance: str | None
    redacted: list[str] | None = Field(
        None, description="Mask and drop paths that reached the input (None: not noted)"
    )


class DecisionListResponse(BaseModel):
    items: list[DecisionRecordResponse]


@router.get(
    "/decisions/{decision_id}",
    response_model=DecisionRecordResponse,
    summary="One logged decision, by the `decision_id` its response carried",
)
async def get_decision(
    decision_log: DecisionLogDep,
    _role: AdminRole,
    decision_id: Annotated[str, Path(max_length=64)],
) -> dict[str, Any]:
    return (await decision_log.get(decision_id)).as_dict()


@router.get(
    "/decisions",
    response_model=DecisionListResponse,
    summary="Logged decisions, newest first",
)
async def list_decisions(
    decision_log: DecisionLogDep,
    _role: AdminRole,
    version: Annotated[str | None, Query(max_length=200, description="Snapshot version")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 time, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_QUERY_LIMIT)] = 100,
) -> dict[str, Any]:
    records = await decision_log.query(version=version, since=since, limit=limit)
    return {"items": [record.as_dict() for record in records]}
