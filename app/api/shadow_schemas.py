"""Request and response models of issue 11: comparison, shadow-lane reports, promotion guards."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LaneMode = Literal["canary", "shadow"]
MAX_WATCH_S = 7 * 24 * 3600


class GuardRequest(BaseModel):
    """Give either part or both: the divergence check before, the error-rate watch after."""

    model_config = ConfigDict(extra="forbid")

    max_divergence: float | None = Field(
        None, ge=0, le=1, description="Refuse unless the candidate's shadow lanes diverged on "
        "at most this share of their decisions (different or erroring)", examples=[0.02]
    )  # fmt: skip
    min_shadow_decisions: int | None = Field(
        None, ge=1, le=10**12, description="... of at least this many (default 100)",
        examples=[500],
    )  # fmt: skip
    max_replay_divergence: float | None = Field(
        None, ge=0, le=1, description="Refuse unless the candidate, replaying the logged "
        "decisions (docs/lifecycle.md, Replay), answers at most this share of them differently",
        examples=[0.01],
    )  # fmt: skip
    replay_since: str | None = Field(
        None, pattern=r"^\s*\d+(\.\d+)?\s*[smhdw]\s*$", description="... of the decisions "
        "logged this long ago or later (24h, 30m, 7d; default: all the log keeps)",
        examples=["24h"],
    )  # fmt: skip
    min_replay_decisions: int | None = Field(
        None, ge=1, le=10**12, description="... of at least this many replayable (default 1)"
    )
    watch_s: float | None = Field(
        None, gt=0, le=MAX_WATCH_S, description="After promotion, watch live answers this long",
        examples=[300],
    )  # fmt: skip
    max_error_rate: float | None = Field(
        None, ge=0, le=1, description="Roll back by itself when the fleet's share of error "
        "answers on the new version exceeds this", examples=[0.01],
    )  # fmt: skip
    min_decisions: int | None = Field(
        None, ge=1, le=10**12, description="Decide on at least this many answers (default 20)"
    )

    @model_validator(mode="after")
    def _complete(self) -> GuardRequest:
        if all(part is None for part in (self.max_divergence, self.max_replay_divergence,
                                          self.watch_s)):  # fmt: skip
            raise ValueError(
                "give max_divergence or max_replay_divergence (checked before) and/or watch_s "
                "(after)"
            )
        replay_options = self.replay_since is not None or self.min_replay_decisions is not None
        if replay_options and self.max_replay_divergence is None:
            raise ValueError("replay_since and min_replay_decisions need max_replay_divergence")
        if (self.watch_s is None) != (self.max_error_rate is None):
            raise ValueError("watch_s and max_error_rate go together")
        if self.min_shadow_decisions is not None and self.max_divergence is None:
            raise ValueError("min_shadow_decisions needs max_divergence")
        if self.min_decisions is not None and self.watch_s is None:
            raise ValueError("min_decisions needs watch_s")
        return self

    def as_config(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] | None = Field(
        None, min_length=1, description="Fact sets to decide on both versions"
    )
    fixtures_of: str | None = Field(
        None, min_length=1, description="Use the stored fixtures of this version as the inputs"
    )

    @model_validator(mode="after")
    def _one_source(self) -> CompareRequest:
        if (self.items is None) == (self.fixtures_of is None):
            raise ValueError("give exactly one of items or fixtures_of")
        return self


class SubtaskDiff(BaseModel):
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]


class EdgeDiff(BaseModel):
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]


class RuleDiff(BaseModel):
    added: list[str]
    removed: list[str]


class CompareItem(BaseModel):
    index: int
    name: str | None = Field(None, description="The fixture's name (with fixtures_of)")
    differs: bool
    subtasks: SubtaskDiff
    dag: EdgeDiff
    rules: RuleDiff
    result: dict[str, Any] | None = Field(None, description="wasm: both raw results, if differ")


class CompareResponse(BaseModel):
    a: str
    b: str
    items: list[CompareItem]
    totals: dict[str, int]


class ShadowTotals(BaseModel):
    evaluated: int
    identical: int
    different: int
    errors: int
    dropped: int
    divergence: float | None = Field(description="(different + errors) / evaluated")


class ShadowReplica(BaseModel):
    replica: str
    evaluated: int
    identical: int
    different: int
    errors: int
    dropped: int
    updated_at: datetime | None = None


class ShadowReport(BaseModel):
    deployment_id: int
    mode: LaneMode
    percent: int
    version: str
    pending: int = Field(description="Requests queued for the shadow on the replica answering")
    totals: ShadowTotals
    replicas: list[ShadowReplica]
    examples: list[dict[str, Any]]


class GuardResponse(BaseModel):
    promotion_id: int
    env: str
    version: str
    from_version: str | None
    config: dict[str, Any]
    watch_until: datetime
    status: Literal["watching", "passed", "rolled_back", "superseded"]
    outcome: dict[str, Any] | None = Field(None, description="The fleet's figures when decided")
    decided_by: str | None = Field(None, description="The replica that decided it")
    created_at: datetime | None = None
    updated_at: datetime | None = None
