"""Response models of the coverage and diff routes (app/api/routes/coverage.py): they document
the OpenAPI schema; every answer carries more fields than they name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RuleFiring(BaseModel):
    model_config = ConfigDict(extra="allow")

    rule_name: str
    fired: int = Field(description="How often it fired across the fleet in the window")
    share: float | None = Field(None, description="fired / decisions")
    disabled: bool = False


class ReplicaCounts(BaseModel):
    replica: str
    decisions: int
    errors: int
    fired: int


class ProductionCoverageResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str
    engine: str
    since: str = Field(description="Start of the window (the start of its first time bucket)")
    until: str
    bucket_s: int
    decisions: int
    errors: int
    replicas: list[ReplicaCounts]
    rules: list[RuleFiring]
    never_fired: list[str] | None = Field(
        description="Enabled rules that did not fire in the window (null for wasm: a module "
        "does not list its rules)"
    )
    note: str | None = None


class SnapshotDiffResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    from_: str = Field(alias="from")
    to: str
    identical: bool
    engine: dict[str, Any] | None = None
    checksum: dict[str, Any] | None = None
    rules: dict[str, Any]
    subtask_types: dict[str, Any]
    fixtures: dict[str, Any]
    wasm: dict[str, Any] | None = None
