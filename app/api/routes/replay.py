"""POST /snapshots/{version}/replay: the logged decisions decided again on a version, against
what was answered then (admin, as GET /decisions; only when `PKG_DECISION_LOG=database`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import AdminRole
from app.api.deps import ReplayDep
from app.api.shadow_schemas import CompareItem
from app.services.replay import ReplayWindow

router = APIRouter(tags=["shadow"])

MOMENT = "A duration before now (`24h`, `30m`, `7d`) or an ISO 8601 time"


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: str | None = Field(
        None, max_length=64, description=f"{MOMENT}: records at or after it", examples=["24h"]
    )
    until: str | None = Field(None, max_length=64, description=f"{MOMENT}: records before it")
    version: str | None = Field(
        None, min_length=1, max_length=200, description="Only records answered by this version"
    )
    limit: int | None = Field(
        None, ge=1, description="At most this many records, newest first (default and maximum: "
        "PKG_REPLAY_MAX_RECORDS)",
    )  # fmt: skip
    cursor: str | None = Field(
        None, max_length=200, description="Go on from a truncated replay's `next_cursor`"
    )


class ReplayItem(CompareItem):
    decision_id: str
    time: str
    answered_by: str | None = Field(description="The version that answered then")


class RuleChange(BaseModel):
    rule: str
    fired_more: int = Field(description="Records where it fires now and did not then")
    fired_less: int = Field(description="Records where it fired then and does not now")
    changed: int


class Unreplayable(BaseModel):
    count: int
    paths: dict[str, int] = Field(
        description="Per masked or dropped path a condition of the version reads: how many"
    )


class ReplayResponse(BaseModel):
    version: str
    env: str
    since: str | None
    until: str | None
    answered_by: str | None
    records: int = Field(description="Records read (replayed + unreplayable)")
    replayed: int
    unreplayable: Unreplayable
    totals: dict[str, int] = Field(description="As compare's: a = answered then, b = version")
    divergence: float | None = Field(description="different / replayed")
    rules: list[RuleChange] = Field(description="Rules whose firing changed, most first")
    items: list[ReplayItem] = Field(description="Per differing record, newest first")
    items_dropped: int = Field(description="Differing records past the items kept")
    examples: list[dict[str, Any]] = Field(
        description="The newest differing records with their input as logged (masked stays "
        "masked), what was answered then and what is answered now"
    )
    truncated: bool
    truncated_reason: str | None = Field(description="limit, max_records or deadline")
    next_cursor: str | None


@router.post(
    "/snapshots/{version}/replay",
    response_model=ReplayResponse,
    summary="Decide the logged decisions again on a version: how its answers differ from then",
)
async def replay(
    version: Annotated[str, Path(min_length=1, max_length=200)],
    replayer: ReplayDep,
    _role: AdminRole,
    body: Annotated[
        ReplayRequest | None,
        Body(examples=[{"since": "24h", "version": "hotel-ops@1.0.0", "limit": 10000}]),
    ] = None,
) -> dict[str, Any]:
    request = body or ReplayRequest()
    window = ReplayWindow.parse(
        since=request.since, until=request.until, answered_by=request.version
    )
    return await replayer.run(version, window=window, limit=request.limit, cursor=request.cursor)
