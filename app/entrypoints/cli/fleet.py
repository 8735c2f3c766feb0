"""`pkgctl fleet`, and the `--wait` of `promote` and `rollback` (like `kubectl rollout status`):
which version every live replica serves, and waiting until they all serve the new one."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from app.client import PKGHttpClient
from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import DEFAULT_URL, EXIT_FAILED, Token, Url, client, server, show

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """`60s`, `1.5m`, `500ms`, `2h` or plain seconds (`90`)."""
    match = DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration (60s, 1.5m, 500ms, 90)")
    return float(match[1]) * UNITS[match[2] or "s"]


Wait = Annotated[
    bool,
    typer.Option(
        "--wait", help="Return once every live replica serves the new version (exit 1 if not)"
    ),
]
Timeout = Annotated[
    str, typer.Option("--timeout", help="How long --wait waits: 60s, 2m, 500ms, 90")
]


def wait_for(pkg: PKGHttpClient, version: str, *, env: str | None, timeout: str) -> None:
    """Print progress as replicas follow; exit 1 naming those that did not within `timeout`."""
    seconds = parse_duration(timeout)
    shown: list[tuple[int, int]] = []

    def progress(rollout: Any) -> None:
        counts = (len(rollout.done), len(rollout.done) + len(rollout.pending))
        if counts[1] and (not shown or shown[-1] != counts):
            shown.append(counts)
            typer.echo(f"{counts[0]} of {counts[1]} live replicas serve {version}", err=True)

    rollout = server(
        lambda: pkg.wait_for_version(version, env=env, timeout_s=seconds, on_progress=progress)
    )
    if rollout.complete:
        typer.echo(f"every live replica serves {version}", err=True)
        return
    summary = rollout.summary()
    if not summary["done"] and not summary["pending"]:
        typer.echo(f"timed out after {timeout}: no live replica reported {version}", err=True)
        raise typer.Exit(EXIT_FAILED)
    pending = summary["pending"]
    typer.echo(
        f"timed out after {timeout}: {len(pending)} replica(s) did not follow {version}: "
        + ", ".join(sorted(pending)),
        err=True,
    )
    for name, why in sorted(pending.items()):
        typer.echo(f"  {name}: {why}", err=True)
    raise typer.Exit(EXIT_FAILED)


@cli.command()
def fleet(
    url: Url = DEFAULT_URL,
    token: Token = None,
    env: Annotated[str | None, typer.Option(help="Only the replicas of this env")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The answer of GET /fleet")] = False,
    everyone: Annotated[
        bool, typer.Option("--all", help="Also replicas outside the live window")
    ] = False,
) -> None:
    """Every live replica: the version it serves, when it last confirmed it against the
    database, its lag behind the active version and whether it is stale."""
    with client(url, token) as pkg:
        report = server(lambda: pkg.fleet(env=env, all=everyone))
    if as_json:
        show(report)
        return
    typer.echo(table(report))


def table(report: dict[str, Any]) -> str:
    header = ("REPLICA", "ENV", "VERSION", "ACTIVE", "CONFIRMED", "LAG", "STATE")
    rows = [header] + [_row(replica) for replica in report["replicas"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    state = "converged" if report["converged"] else "not converged"
    lines.append(f"{report['live']} live replica(s), {state}")
    return "\n".join(line.rstrip() for line in lines)


def _row(replica: dict[str, Any]) -> tuple[str, ...]:
    lag = replica["lag_s"]
    states = ["in sync" if replica["in_sync"] else "behind"]
    if replica["stale"]:
        states.append("stale")
    if not replica["live"]:
        states.append("silent")
    return (
        replica["replica"],
        replica["env"] or "-",
        replica["version"] or "-",
        replica["active_version"] or "-",
        f"{replica['confirmation_age_s']:.1f}s ago",
        "-" if lag is None else f"{lag:.1f}s",
        ", ".join(states),
    )
