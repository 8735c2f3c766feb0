"""What PKG's HTTP API answers, as `TypedDict`s: plain dicts at run time (the JSON as sent), with
keys and value types a type checker knows. Times are ISO 8601 strings, as on the wire. Keys
marked `NotRequired` are left out by some servers or some answers; the server may add keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

Facts: TypeAlias = Mapping[str, Any]
"""Task facts: `tags` (list of str), `signals` (str → number), `context`, any other keys."""

PolicyDocument: TypeAlias = Mapping[str, Any]
"""A policy document (`version`, `env`, `engine`, `subtask_types`, `rules`, `fixtures`)."""

Lane: TypeAlias = Literal["active", "canary", "pinned"]
LaneMode: TypeAlias = Literal["canary", "shadow"]
GuardState: TypeAlias = Literal["watching", "passed", "rolled_back", "superseded"]


# ---------------------------------------------------------------- decisions
class Subtask(TypedDict):
    name: str
    type: str
    params: dict[str, Any]
    rule_id: str
    rule_name: str


# "from" is a keyword: the functional form
Edge = TypedDict("Edge", {"from": str, "to": str, "type": str, "rule": NotRequired[str]})


class FiredRule(TypedDict):
    """Provenance of a fired rule; the error envelope's one entry has `error`, `error_type`."""

    rule_id: str
    rule_name: NotRequired[str | None]
    rule_priority: NotRequired[int | None]
    weight: NotRequired[float | None]
    matched_conditions: NotRequired[int | None]
    emissions_count: NotRequired[int | None]
    error: NotRequired[str]
    error_type: NotRequired[str]


class ConditionExplanation(TypedDict):
    condition_type: str
    condition_key: str | None
    operator: str
    value: Any
    held: bool


class RuleExplanation(TypedDict):
    """`explain=True`: per rule, whether it fired and which of its conditions held."""

    rule_id: str
    rule_name: str
    fired: bool
    disabled: bool
    conditions: list[ConditionExplanation]


class Simulation(TypedDict):
    """A dry run on a stored version (`simulate`): the engine's answer only."""

    subtasks: list[Subtask]
    dag: list[Edge]
    rules: list[FiredRule]
    snapshot: str | None
    result: NotRequired[Any]  # wasm policies: the raw decision


class Decision(Simulation):
    """One answer of `/evaluate`: which lane and snapshot served it, and its log id."""

    decision_id: str
    engine: str
    lane: Lane
    deployment_id: NotRequired[int | None]
    duration_ms: float
    explain: NotRequired[list[RuleExplanation] | None]


class DecisionRecord(TypedDict):
    """A logged decision (`PKG_DECISION_LOG=database`)."""

    decision_id: str
    time: str
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
    instance: str | None


# ---------------------------------------------------------------- snapshots
class SnapshotSummary(TypedDict):
    id: int
    version: str
    env: str
    engine: str
    checksum: str | None
    is_active: bool
    created_at: str | None
    activated_at: str | None
    notes: str | None
    rules_count: int | None
    checksum_scheme: int | None  # 1: pre-RFC 8785 JSON; 2: RFC 8785
    signing_key_id: str | None  # None: unsigned


class Snapshot(SnapshotSummary):
    entrypoint: str | None
    entrypoints: list[str]
    revision: str | None
    data_size: int
    strict_builtin_errors: bool
    document: dict[str, Any]  # the snapshot as a policy document


class Fixture(TypedDict):
    """An input and the partial answer it must get (`expect`: subtasks, dag, rules...)."""

    name: str
    input: dict[str, Any]
    expect: dict[str, Any]


class FixtureFailure(TypedDict):
    name: str
    expected: Any
    actual: Any


class ValidationReport(TypedDict):
    passed: int
    failed: int
    total: int
    failures: list[FixtureFailure]


class ValidationRun(TypedDict):
    id: int
    snapshot_id: int
    started_at: str | None
    finished_at: str | None
    success: bool | None
    report: ValidationReport | None
    version: NotRequired[str]


# ---------------------------------------------------------------- compare
class SubtaskDiff(TypedDict):
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]


class EdgeDiff(TypedDict):
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]


class RuleDiff(TypedDict):
    added: list[str]
    removed: list[str]


class ComparedItem(TypedDict):
    index: int
    name: str | None  # the fixture's name (compare on `fixtures_of`)
    differs: bool
    subtasks: SubtaskDiff
    dag: EdgeDiff
    rules: RuleDiff
    result: dict[str, Any] | None  # wasm: both raw results, when they differ


class Comparison(TypedDict):
    a: str
    b: str
    items: list[ComparedItem]
    totals: dict[str, int]  # total, identical, different


# ---------------------------------------------------------------- governance
class Guard(TypedDict, total=False):
    """A promotion's guard: `max_divergence` (with `min_shadow_decisions`) is checked before,
    against the candidate's shadow lanes; `watch_s` with `max_error_rate` (and
    `min_decisions`) watches live answers after, and rolls back by itself."""

    max_divergence: float
    min_shadow_decisions: int
    watch_s: float
    max_error_rate: float
    min_decisions: int


class GuardStatus(TypedDict):
    promotion_id: int
    env: str
    version: str
    from_version: str | None
    config: Guard
    watch_until: str
    status: GuardState
    outcome: dict[str, Any] | None  # the fleet's figures when decided
    decided_by: str | None  # the replica that decided
    created_at: str | None
    updated_at: str | None


class Promotion(TypedDict):
    """An audit row: a promotion or a rollback (`action`)."""

    id: int
    snapshot_id: int | None
    from_version: str | None
    to_version: str | None
    actor: str | None  # the token's name
    action: str
    reason: str | None
    metrics: dict[str, Any] | None
    success: bool | None
    created_at: str | None
    on_behalf_of: str | None
    chain_seq: int | None
    prev_hash: str | None
    row_hash: str | None
    signing_key_id: str | None
    env: NotRequired[str]
    signature: NotRequired[str | None]
    guard: NotRequired[GuardStatus]  # a guarded promotion that watches


class ChainBreak(TypedDict):
    row_id: int | None
    problem: Literal["altered", "removed", "inserted", "bad_signature"]
    detail: str


class AuditVerification(TypedDict):
    env: str
    ok: bool
    rows: int
    signed: bool
    first_break: ChainBreak | None


# ---------------------------------------------------------------- lanes and devices
class Deployment(TypedDict):
    """A lane: `mode` canary routes `percent` % of a target/region's callers to `version`;
    shadow evaluates it on the side and reports how it differs."""

    id: int
    snapshot_id: int
    target: str
    region: str
    percent: int
    is_active: bool
    mode: LaneMode
    version: NotRequired[str]
    created_at: NotRequired[str | None]
    updated_at: NotRequired[str | None]


class Coverage(TypedDict):
    deployment_id: int
    target: str
    region: str
    version: str
    snapshot_id: int
    percent: int
    devices_on_snapshot: int
    devices_total: int


class ShadowTotals(TypedDict):
    evaluated: int
    identical: int
    different: int
    errors: int
    dropped: int
    divergence: float | None  # (different + errors) / evaluated


class ShadowReplica(TypedDict):
    replica: str
    evaluated: int
    identical: int
    different: int
    errors: int
    dropped: int
    updated_at: str | None


class ShadowReport(TypedDict):
    deployment_id: int
    mode: LaneMode
    percent: int
    version: str
    pending: int
    totals: ShadowTotals
    replicas: list[ShadowReplica]
    examples: list[dict[str, Any]]


class Device(TypedDict):
    device_id: str
    device_type: str
    region: str
    snapshot_id: int | None
    version: str | None
    last_seen: str | None


# ---------------------------------------------------------------- health
class Health(TypedDict):
    status: Literal["ok", "degraded", "starting"]
    healthy: bool
    degraded_mode: bool
    last_error: str | None
    active_version: str | None
    redis_connected: bool
    db_connected: bool
    db_active_version: NotRequired[str | None]
    redis_expected: NotRequired[bool]
    wasm_runtime: NotRequired[bool]


class Metadata(TypedDict, total=False):
    """What a replica serves and how it got there (`/metadata`; the server adds more keys)."""

    version: str | None
    env: str
    engine: str | None
    checksum: str | None
    loaded: bool
    loaded_at: float | None
    healthy: bool
    degraded_mode: bool
    last_error: str | None
    cached_versions: list[str]
    db_connected: bool
    db_active_version: str | None
    redis_connected: bool
    served_from_cache: bool
    last_activation_source: str | None


class Status(TypedDict):
    health: Health
    metadata: Metadata


class FieldError(TypedDict):
    """One bad field of a 422: where (`rules[0].conditions[0].op`) and what is wrong."""

    loc: str
    msg: str
