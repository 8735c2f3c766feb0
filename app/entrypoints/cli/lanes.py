"""`pkgctl lane` (canary and shadow lanes: list, open, patch, close, shadow report) and
`pkgctl guard` (a guarded promotion's watch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import typer

from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import (
    DEFAULT_URL,
    JsonOutput,
    Token,
    Url,
    client,
    fail,
    output,
    server,
)
from app.entrypoints.cli.human import fields, table

LANE_COLUMNS = ("id", "target", "region", "mode", "percent", "version", "is_active")
GUARD_KEYS = (
    "promotion_id",
    "env",
    "version",
    "from_version",
    "status",
    "watch_until",
    "config",
    "outcome",
    "decided_by",
)
LaneId = Annotated[int, typer.Argument(min=1, help="The lane's id (pkgctl lane list)")]
Mode = Literal["canary", "shadow"]

lane = typer.Typer(
    help="Canary and shadow lanes: route or shadow a share of a target's callers to a version.",
    no_args_is_help=True,
)
cli.add_typer(lane, name="lane")


def _lane(body: Mapping[str, Any]) -> list[str]:
    return fields(body, (*LANE_COLUMNS, "snapshot_id", "created_at", "updated_at"))


@lane.command("list")
def list_lanes(
    url: Url = DEFAULT_URL,
    token: Token = None,
    target: Annotated[str | None, typer.Option(help="Only this target")] = None,
    region: Annotated[str | None, typer.Option(help="Only this region")] = None,
    closed: Annotated[bool, typer.Option("--all", help="Closed lanes too")] = False,
    as_json: JsonOutput = False,
) -> None:
    """The lanes (open ones unless --all), one line each."""
    with client(url, token) as pkg:
        lanes = server(
            lambda: pkg.deployments(target=target, region=region, active_only=not closed)
        )
    output(lanes, as_json=as_json, human=lambda rows: table(rows, LANE_COLUMNS, empty="no lanes"))


@lane.command("open")
def open_lane(
    version: Annotated[str, typer.Argument(help="The version the lane serves (or shadows)")],
    target: Annotated[str, typer.Option(help="Who the lane is for: router, edge:door, ...")],
    percent: Annotated[int, typer.Option(min=0, max=100, help="Share of the callers, 0-100")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    region: Annotated[str | None, typer.Option(help="Default: global")] = None,
    mode: Annotated[
        Mode, typer.Option(help="canary: serve the share; shadow: decide it on the side")
    ] = "canary",
    as_json: JsonOutput = False,
) -> None:
    """Open a lane: route (canary) or shadow PERCENT % of TARGET's callers to VERSION."""
    with client(url, token) as pkg:
        opened = server(
            lambda: pkg.open_deployment(
                version, target=target, percent=percent, region=region, mode=mode
            )
        )
    output(opened, as_json=as_json, human=_lane)


@lane.command("patch")
def patch_lane(
    deployment_id: LaneId,
    url: Url = DEFAULT_URL,
    token: Token = None,
    version: Annotated[str | None, typer.Option(help="Serve another version")] = None,
    percent: Annotated[int | None, typer.Option(min=0, max=100, help="A new share")] = None,
    mode: Annotated[Mode | None, typer.Option(help="canary or shadow")] = None,
    active: Annotated[
        bool | None, typer.Option("--open/--close", help="Open or close the lane")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Change a lane: its version, share, mode, or whether it is open."""
    if version is None and percent is None and mode is None and active is None:
        fail("nothing to change: give --version, --percent, --mode, --open or --close")
    with client(url, token) as pkg:
        patched = server(
            lambda: pkg.update_deployment(
                deployment_id, version=version, percent=percent, is_active=active, mode=mode
            )
        )
    output(patched, as_json=as_json, human=_lane)


@lane.command("close")
def close_lane(
    deployment_id: LaneId, url: Url = DEFAULT_URL, token: Token = None, as_json: JsonOutput = False
) -> None:
    """Close a lane: its callers go back to the active snapshot."""
    with client(url, token) as pkg:
        closed = server(lambda: pkg.close_deployment(deployment_id))
    output(closed, as_json=as_json, human=_lane)


@lane.command("shadow")
def shadow_report(
    deployment_id: LaneId,
    url: Url = DEFAULT_URL,
    token: Token = None,
    version: Annotated[
        str | None, typer.Option(help="Another version this lane shadowed (default: its own)")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """A shadow lane's report: fleet-wide totals, divergence, newest differing examples."""
    with client(url, token) as pkg:
        report = server(lambda: pkg.shadow_report(deployment_id, version=version))
    output(report, as_json=as_json, human=_shadow)


def _shadow(report: Mapping[str, Any]) -> list[str]:
    totals = report.get("totals") or {}
    divergence = totals.get("divergence")
    lines = fields(report, ("deployment_id", "mode", "percent", "version", "pending"))
    lines += fields(totals, ("evaluated", "identical", "different", "errors", "dropped"))
    lines.append(f"divergence  {'-' if divergence is None else f'{divergence:.2%}'}")
    replicas = report.get("replicas") or []
    if replicas:
        columns = ("replica", "evaluated", "identical", "different", "errors", "dropped")
        lines += ["", *table(replicas, columns, empty="")]
    for example in report.get("examples") or []:
        lines += ["", f"differs: {fields(example)[0] if example else '-'}"]
        lines += [f"  {line}" for line in fields(example)[1:]]
    return lines


@cli.command()
def guard(
    promotion_id: Annotated[int, typer.Argument(min=1, help="The promotion's id")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: JsonOutput = False,
) -> None:
    """A guarded promotion's watch: watching, passed, rolled_back or superseded."""
    with client(url, token) as pkg:
        status = server(lambda: pkg.guard(promotion_id))
    output(status, as_json=as_json, human=lambda body: fields(body, GUARD_KEYS))
