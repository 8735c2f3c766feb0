"""Validation runs, promotions and rollbacks: every write audited, every promotion gated."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.api.auth import AdminRole, ReaderRole
from app.api.deps import GovernanceDep, GuardedPromotionsDep
from app.api.schemas import (
    MAX_ID,
    AuditVerifyResponse,
    PromotionRequest,
    PromotionResponse,
    RollbackRequest,
    ValidationRunRequest,
    ValidationRunResponse,
)

router = APIRouter(tags=["governance"])
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post(
    "/validation/runs",
    status_code=201,
    response_model=ValidationRunResponse,
    summary="Run a snapshot's fixtures in a sandbox evaluator and store the report",
)
async def run_validation(
    body: ValidationRunRequest, governance: GovernanceDep, _role: AdminRole
) -> dict[str, Any]:
    return await governance.validate(body.version)


@router.get("/validation/runs", response_model=list[ValidationRunResponse])
async def list_validation_runs(
    governance: GovernanceDep, _role: ReaderRole, version: str | None = None, limit: Limit = 100
) -> list[dict[str, Any]]:
    return await governance.validation_runs(version=version, limit=limit)


@router.get("/validation/runs/{run_id}", response_model=ValidationRunResponse)
async def read_validation_run(
    run_id: Annotated[int, Path(ge=1, le=MAX_ID)], governance: GovernanceDep, _role: ReaderRole
) -> dict[str, Any]:
    return await governance.validation_run(run_id)


@router.post(
    "/promotions",
    status_code=201,
    response_model=PromotionResponse,
    summary="Make a version the active one of its env (needs a passed validation unless force)",
)
async def promote(
    body: PromotionRequest,
    governance: GovernanceDep,
    guarded: GuardedPromotionsDep,
    caller: AdminRole,
) -> dict[str, Any]:
    if body.guard is not None:
        return await guarded.promote(
            body.version,
            guard=body.guard.as_config(),
            actor=caller.name,
            on_behalf_of=body.actor,
            reason=body.reason,
            force=body.force,
            env=body.env,
        )
    return await governance.promote(
        body.version,
        actor=caller.name,
        on_behalf_of=body.actor,
        reason=body.reason,
        force=body.force,
        env=body.env,
    )


@router.get("/promotions", response_model=list[PromotionResponse], summary="The audit trail")
async def list_promotions(
    governance: GovernanceDep,
    _role: ReaderRole,
    version: str | None = None,
    env: str | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    return await governance.promotions(version=version, env=env, limit=limit)


@router.post(
    "/promotions/rollback",
    status_code=201,
    response_model=PromotionResponse,
    summary="Go back to the version active before the current one (or a named one)",
)
async def rollback(
    body: RollbackRequest, governance: GovernanceDep, caller: AdminRole
) -> dict[str, Any]:
    return await governance.rollback(
        actor=caller.name,
        on_behalf_of=body.actor,
        reason=body.reason,
        to_version=body.to_version,
        env=body.env,
    )


@router.get(
    "/promotions/verify",
    response_model=AuditVerifyResponse,
    summary="Walk an env's audit chain; name the first row altered, removed or inserted",
)
async def verify_promotions(
    governance: GovernanceDep, _role: ReaderRole, env: str | None = None
) -> dict[str, Any]:
    return await governance.verify_audit(env)
