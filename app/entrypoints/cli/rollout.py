"""`pkgctl promote`, `rollback` and `status`: which snapshot a server serves, and its health."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from app.client import PKGConnectionError, PKGError
from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import (
    DEFAULT_URL,
    EXIT_FAILED,
    JsonOutput,
    Token,
    Url,
    client,
    fail,
    output,
    server,
    server_error,
)
from app.entrypoints.cli.fleet import Timeout, Wait, parse_duration, wait_for
from app.entrypoints.cli.human import fields

PROMOTION_KEYS = (
    "id",
    "action",
    "from_version",
    "to_version",
    "actor",
    "on_behalf_of",
    "reason",
    "success",
    "created_at",
)
MAX_DIVERGENCE_HELP = (
    "Guard: refuse unless its shadow lanes diverged on at most this share of decisions (0.02 = 2 %)"
)
HEALTH_KEYS = ("status", "healthy", "active_version", "degraded_mode", "last_error")
METADATA_KEYS = ("env", "version", "engine", "checksum", "active_since", "db_active_version")


@cli.command()
def promote(
    version: str,
    url: Url = DEFAULT_URL,
    token: Token = None,
    reason: Annotated[str | None, typer.Option()] = None,
    actor: Annotated[str, typer.Option(envvar="USER")] = "pkgctl",
    force: Annotated[bool, typer.Option(help="Skip the passed-validation requirement")] = False,
    env: Annotated[str | None, typer.Option()] = None,
    wait: Wait = False,
    timeout: Timeout = "60s",
    max_divergence: Annotated[
        float | None,
        typer.Option(min=0, max=1, help=MAX_DIVERGENCE_HELP),
    ] = None,
    min_shadow_decisions: Annotated[
        int | None, typer.Option(min=1, help="Guard: ... of at least this many (default 100)")
    ] = None,
    watch: Annotated[
        str | None,
        typer.Option(help="Guard: after promotion, watch live answers this long (5m, 300)"),
    ] = None,
    max_error_rate: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Guard: roll back by itself above this error share"),
    ] = None,
    min_decisions: Annotated[
        int | None, typer.Option(min=1, help="Guard: decide on at least this many (default 20)")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Make VERSION the active snapshot of its env (audited); --wait: until the fleet serves it.
    The guard options check the shadow divergence before and/or watch the error rate after
    (pkgctl guard PROMOTION_ID shows the watch)."""
    guard = _guard(
        max_divergence=max_divergence,
        min_shadow_decisions=min_shadow_decisions,
        watch_s=None if watch is None else parse_duration(watch),
        max_error_rate=max_error_rate,
        min_decisions=min_decisions,
    )
    with client(url, token) as pkg:
        promoted = server(
            lambda: pkg.promote(
                version, reason=reason, actor=actor, force=force, env=env, guard=guard
            )
        )
        output(promoted, as_json=as_json, human=_promotion)
        if wait:
            wait_for(pkg, version, env=env, timeout=timeout)


def _guard(**options: float | None) -> Any:
    """The guard the options give (None when none is given; the server checks the rest)."""
    given = {name: value for name, value in options.items() if value is not None}
    return given or None


def _promotion(body: Mapping[str, Any]) -> list[str]:
    lines = fields(body, PROMOTION_KEYS)
    armed = body.get("guard")
    if isinstance(armed, Mapping):
        lines += [f"guard      {armed.get('status')} until {armed.get('watch_until', '-')}"]
    return lines


@cli.command()
def rollback(
    url: Url = DEFAULT_URL,
    token: Token = None,
    to: Annotated[str | None, typer.Option("--to", help="Version (default: previous)")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    actor: Annotated[str, typer.Option(envvar="USER")] = "pkgctl",
    env: Annotated[str | None, typer.Option()] = None,
    wait: Wait = False,
    timeout: Timeout = "60s",
    as_json: JsonOutput = False,
) -> None:
    """Go back to the previously active version (audited); --wait: until the fleet serves it."""
    with client(url, token) as pkg:
        done = server(lambda: pkg.rollback(to_version=to, reason=reason, actor=actor, env=env))
        output(done, as_json=as_json, human=_promotion)
        if wait and done.get("to_version"):
            wait_for(pkg, str(done["to_version"]), env=env, timeout=timeout)


@cli.command()
def status(url: Url = DEFAULT_URL, token: Token = None, as_json: JsonOutput = False) -> None:
    """What the server serves, and whether it is healthy (any token with the evaluator role
    shows the metadata; without one, health only; a wrong token exits 2)."""
    with client(url, token) as pkg:
        health = server(pkg.health)
        try:
            metadata: Mapping[str, Any] | None = pkg.metadata()
        except PKGError as exc:
            if token is not None or exc.status not in (401, 403):
                server_error(exc)  # a token the server refuses is a usage error: exit 2
            typer.echo(f"metadata needs a token with the evaluator role ({exc})", err=True)
            metadata = None
        except PKGConnectionError as exc:
            fail(str(exc), code=EXIT_FAILED)
    output({"health": health, "metadata": metadata}, as_json=as_json, human=_status)


def _status(body: Mapping[str, Any]) -> list[str]:
    lines = fields(body["health"], HEALTH_KEYS)
    if body["metadata"] is not None:
        lines += fields(body["metadata"], METADATA_KEYS)
    return lines
