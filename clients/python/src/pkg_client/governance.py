"""The routes that change what is served, described as `Call`s: validation, promotion (guarded),
rollback, the audit trail, canary and shadow lanes, devices. Both clients bind them as methods
of the same name, as they do `pkg_client.operations`."""

from __future__ import annotations

from pkg_client.call import Call, body, nothing, query, segment
from pkg_client.types import (
    AuditVerification,
    Coverage,
    Deployment,
    Device,
    Guard,
    GuardStatus,
    LaneMode,
    Promotion,
    ShadowReport,
    ValidationRun,
)


# ---------------------------------------------------------------- validation and promotion
def validate(version: str) -> Call[ValidationRun]:
    """Run a stored snapshot's fixtures on the server; the run's `success` says how it went,
    its `report` which fixtures failed."""
    return Call("POST", "/validation/runs", expect=(201,), json={"version": version})


def validation_runs(
    *, version: str | None = None, limit: int | None = None
) -> Call[list[ValidationRun]]:
    """Validation runs, newest first."""
    return Call("GET", "/validation/runs", params=query(version=version, limit=limit))


def validation_run(run_id: int) -> Call[ValidationRun]:
    return Call("GET", f"/validation/runs/{segment(run_id)}")


def _acting_for(on_behalf_of: str | None, actor: str | None) -> str | None:
    if on_behalf_of is not None and actor is not None and on_behalf_of != actor:
        raise TypeError("give on_behalf_of or actor (its older name), not both")
    return on_behalf_of if on_behalf_of is not None else actor


def promote(
    version: str,
    *,
    reason: str | None = None,
    on_behalf_of: str | None = None,
    force: bool = False,
    env: str | None = None,
    guard: Guard | None = None,
    actor: str | None = None,
) -> Call[Promotion]:
    """Make `version` the active snapshot of its env, audited: the actor recorded is the
    token's name, `on_behalf_of` who you act for (`actor` is its older name). Refused (409)
    unless its latest validation passed, or `force`. `guard` checks the candidate's shadow
    divergence before and/or watches the error rate after, rolling back by itself; the
    answer's `guard` is the watch's status."""
    payload = body(
        version=version,
        reason=reason,
        actor=_acting_for(on_behalf_of, actor),
        force=force or None,
        env=env,
        guard=None if guard is None else dict(guard),
    )
    return Call("POST", "/promotions", expect=(201,), json=payload)


def rollback(
    *,
    to_version: str | None = None,
    reason: str | None = None,
    on_behalf_of: str | None = None,
    env: str | None = None,
    actor: str | None = None,
) -> Call[Promotion]:
    """Undo the newest promotion not yet undone, or go to `to_version`; audited."""
    payload = body(
        to_version=to_version,
        reason=reason,
        actor=_acting_for(on_behalf_of, actor),
        env=env,
    )
    return Call("POST", "/promotions/rollback", expect=(201,), json=payload)


def promotions(
    *, version: str | None = None, env: str | None = None, limit: int | None = None
) -> Call[list[Promotion]]:
    """The audit trail, newest first: promotions and rollbacks."""
    return Call("GET", "/promotions", params=query(version=version, env=env, limit=limit))


def guard(promotion_id: int) -> Call[GuardStatus]:
    """A guarded promotion's watch: `watching`, `passed`, `rolled_back` or `superseded`
    (404 for a promotion without `watch_s`)."""
    return Call("GET", f"/promotions/{segment(promotion_id)}/guard")


def verify_audit(*, env: str | None = None) -> Call[AuditVerification]:
    """Walk an env's audit chain: `ok`, or the first row altered, removed or inserted."""
    return Call("GET", "/promotions/verify", params=query(env=env))


# ---------------------------------------------------------------- lanes and devices
def deployments(
    *, target: str | None = None, region: str | None = None, active_only: bool = True
) -> Call[list[Deployment]]:
    """Canary and shadow lanes (the open ones, unless `active_only=False`)."""
    params = query(target=target, region=region) | {"active_only": active_only}
    return Call("GET", "/deployments", params=params)


def open_deployment(
    version: str,
    *,
    target: str,
    percent: int,
    region: str | None = None,
    mode: LaneMode = "canary",
) -> Call[Deployment]:
    """Open a lane for `target` in `region` (default `global`): `mode="canary"` routes
    `percent` % of its callers (by `subject`) to `version`; `mode="shadow"` also decides that
    share on `version`, on the side, and counts how it differs (`shadow_report`)."""
    payload = body(version=version, target=target, region=region, percent=percent, mode=mode)
    return Call("POST", "/deployments", expect=(201,), json=payload)


def update_deployment(
    deployment_id: int,
    *,
    version: str | None = None,
    percent: int | None = None,
    is_active: bool | None = None,
    mode: LaneMode | None = None,
) -> Call[Deployment]:
    """Change a lane: its version, share, mode, or whether it is open."""
    payload = body(version=version, percent=percent, is_active=is_active, mode=mode)
    return Call("PATCH", f"/deployments/{segment(deployment_id)}", json=payload)


def close_deployment(deployment_id: int) -> Call[Deployment]:
    """Close a lane: its callers go back to the active snapshot."""
    return update_deployment(deployment_id, is_active=False)


def coverage(*, target: str | None = None, region: str | None = None) -> Call[list[Coverage]]:
    """Per lane, the devices on its snapshot vs all devices of its target in its region."""
    return Call("GET", "/deployments/coverage", params=query(target=target, region=region))


def shadow_report(deployment_id: int, *, version: str | None = None) -> Call[ShadowReport]:
    """A shadow lane's fleet-wide totals, divergence and newest differing examples."""
    path = f"/deployments/{segment(deployment_id)}/shadow"
    return Call("GET", path, params=query(version=version))


def heartbeat(
    device_id: str,
    *,
    device_type: str,
    region: str | None = None,
    version: str | None = None,
    snapshot_id: int | None = None,
) -> Call[None]:
    """A device reports which snapshot it runs."""
    payload = body(device_type=device_type, region=region, version=version, snapshot_id=snapshot_id)
    path = f"/devices/{segment(device_id)}/heartbeat"
    return Call("POST", path, nothing, expect=(204,), json=payload)


def devices(
    *,
    device_type: str | None = None,
    region: str | None = None,
    version: str | None = None,
    limit: int | None = None,
) -> Call[list[Device]]:
    """Device telemetry: which snapshot each device last said it runs."""
    params = query(device_type=device_type, region=region, version=version, limit=limit)
    return Call("GET", "/devices", params=params)
