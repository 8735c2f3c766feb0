"""Request and response models: they validate input and document the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.shadow_schemas import GuardRequest, LaneMode

VERSION_EXAMPLE = "hotel-ops@1.1.0"
FACTS_EXAMPLE: dict[str, Any] = {
    "tags": ["vip", "allergy_nuts"],
    "signals": {"urgency": 0.9, "sentiment": -0.4},
    "context": {"domain": "hotel_ops", "task_type": "guest_request", "room": "1204"},
}


MAX_ID = 2**63 - 1  # BIGINT: a larger id names nothing, and must be a 422, not a 500
DatabaseId = Annotated[int, Field(ge=1, le=MAX_ID)]


class Subtask(BaseModel):
    name: str
    type: str
    params: dict[str, Any]
    rule_id: str
    rule_name: str


class Edge(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    type: Literal["sequential", "gate"]
    rule: str


class FiredRule(BaseModel):
    model_config = ConfigDict(extra="allow")

    rule_id: str
    rule_name: str | None = None
    rule_priority: int | None = None
    weight: float | None = None
    matched_conditions: int | None = None
    emissions_count: int | None = None


class DecisionResponse(BaseModel):
    subtasks: list[Subtask]
    dag: list[Edge]
    rules: list[FiredRule]
    snapshot: str | None
    result: Any = Field(None, description="The raw decision (wasm policies only)")
    decision_id: str
    engine: str
    lane: Literal["active", "canary", "pinned"]
    deployment_id: int | None = None
    duration_ms: float
    explain: list[dict[str, Any]] | None = None


class BatchRequest(BaseModel):
    items: list[dict[str, Any]] = Field(
        ...,
        min_length=1,
        description="Task facts, one object per decision",
        json_schema_extra={"examples": [[FACTS_EXAMPLE]]},
    )


class BatchQuery(BaseModel):
    """Query parameters of `/evaluate/batch` (one model: the FastAPI route and the lean
    handler validate them the same way)."""

    version: str | None = Field(
        None, description="Evaluate this stored version instead of the active one"
    )
    target: str | None = Field(None, description="Canary lane target, e.g. `router`")
    region: str | None = Field(None, description="Canary lane region")
    subject: str | None = Field(
        None, max_length=512, description="Stable caller key for canary bucketing"
    )


class EvaluateQuery(BatchQuery):
    """Query parameters of `/evaluate`."""

    explain: bool = Field(
        False, description="Add, per rule, which conditions held (slower; for debugging)"
    )
    entrypoint: str | None = Field(
        None, max_length=512, description="A wasm policy's entrypoint other than its default"
    )


class BatchResponse(BaseModel):
    items: list[DecisionResponse]


class SnapshotSummary(BaseModel):
    id: int
    version: str
    env: str
    engine: str
    checksum: str | None
    is_active: bool = False
    created_at: datetime | None = None
    activated_at: datetime | None = None
    notes: str | None = None
    rules_count: int | None = None
    checksum_scheme: int | None = Field(None, description="1: pre-RFC 8785 JSON; 2: RFC 8785")
    signing_key_id: str | None = Field(None, description="Who signed it (None: unsigned)")


class SnapshotResponse(SnapshotSummary):
    entrypoint: str | None = None
    entrypoints: list[str] = Field(
        default_factory=list, description="wasm: every entrypoint offered (`entrypoint` first)"
    )
    revision: str | None = Field(default=None, description="wasm: the OPA bundle's revision")
    data_size: int = Field(default=0, description="wasm: bytes of the policy's data document")
    strict_builtin_errors: bool = False
    document: dict[str, Any] = Field(description="The snapshot as a policy document")


class SimulateResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    subtasks: list[Subtask]
    dag: list[Edge]
    rules: list[FiredRule]
    snapshot: str | None


class FixtureModel(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    input: dict[str, Any]
    expect: dict[str, Any]


class FixturesRequest(BaseModel):
    fixtures: list[FixtureModel] = Field(min_length=1)


class ValidationRunRequest(BaseModel):
    version: str = Field(min_length=1, examples=[VERSION_EXAMPLE])


class ValidationRunResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    snapshot_id: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    success: bool | None = None
    report: dict[str, Any] | None = None
    coverage: dict[str, Any] | None = Field(
        None, description="Fixture coverage of the run: rules fired, conditions held and false"
    )


class PromotionRequest(BaseModel):
    version: str = Field(min_length=1, examples=[VERSION_EXAMPLE])
    env: str | None = Field(None, description="Defaults to the server's PKG_ENV")
    actor: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Who you act for; recorded as `on_behalf_of` (the actor is your token's name)",
    )
    reason: str | None = Field(None, max_length=2000)
    force: bool = Field(
        False, description="Promote even without a passed validation run or a passed guard"
    )
    guard: GuardRequest | None = Field(None, description="Shadow divergence and error-rate watch")


class RollbackRequest(BaseModel):
    env: str | None = None
    actor: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Who you act for; recorded as `on_behalf_of` (the actor is your token's name)",
    )
    reason: str | None = Field(None, max_length=2000)
    to_version: str | None = Field(None, description="Default: the version active before")


class PromotionResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    snapshot_id: int | None = None
    from_version: str | None = None
    to_version: str | None = None
    actor: str | None = None
    action: str
    reason: str | None = None
    metrics: dict[str, Any] | None = None
    success: bool | None = None
    created_at: datetime | None = None
    on_behalf_of: str | None = None
    chain_seq: int | None = None
    prev_hash: str | None = None
    row_hash: str | None = None
    signing_key_id: str | None = None


class ChainBreakResponse(BaseModel):
    row_id: int | None = Field(description="The first row that is not what PKG wrote")
    problem: Literal["altered", "removed", "inserted", "bad_signature"]
    detail: str


class AuditVerifyResponse(BaseModel):
    env: str
    ok: bool
    rows: int = Field(description="Rows walked (up to and including the first break)")
    signed: bool = Field(description="Whether row signatures were checked (PKG_VERIFY_KEYS)")
    first_break: ChainBreakResponse | None = None


class DeploymentRequest(BaseModel):
    version: str = Field(min_length=1, examples=[VERSION_EXAMPLE])
    target: str = Field(min_length=1, max_length=200, examples=["router", "edge:door"])
    region: str = Field("global", min_length=1, max_length=100)
    percent: int = Field(ge=0, le=100)
    is_active: bool = True
    mode: LaneMode = Field(
        "canary", description="canary: route callers to it; shadow: evaluate it on the side"
    )


class DeploymentPatch(BaseModel):
    version: str | None = Field(None, min_length=1)
    percent: int | None = Field(None, ge=0, le=100)
    is_active: bool | None = None
    mode: LaneMode | None = None


class DeploymentResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    snapshot_id: int
    target: str
    region: str
    percent: int
    is_active: bool
    mode: LaneMode = "canary"


class HeartbeatRequest(BaseModel):
    device_type: str = Field(min_length=1, max_length=200, examples=["door"])
    region: str = Field("global", min_length=1, max_length=100)
    version: str | None = Field(None, examples=[VERSION_EXAMPLE])
    snapshot_id: DatabaseId | None = None


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded", "starting"]
    healthy: bool
    degraded_mode: bool
    last_error: str | None
    active_version: str | None
    redis_connected: bool
    db_connected: bool
