"""`pkgctl promote`, `rollback` and `status`: which snapshot a server serves, and its health."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.client import PKGConnectionError, PKGError
from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import (
    DEFAULT_URL,
    EXIT_FAILED,
    Token,
    Url,
    client,
    fail,
    server,
    server_error,
    show,
)


@cli.command()
def promote(
    version: str,
    url: Url = DEFAULT_URL,
    token: Token = None,
    reason: Annotated[str | None, typer.Option()] = None,
    actor: Annotated[str, typer.Option(envvar="USER")] = "pkgctl",
    force: Annotated[bool, typer.Option(help="Skip the passed-validation requirement")] = False,
    env: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Make VERSION the active snapshot of its env (audited)."""
    with client(url, token) as pkg:
        show(server(lambda: pkg.promote(version, reason=reason, actor=actor, force=force, env=env)))


@cli.command()
def rollback(
    url: Url = DEFAULT_URL,
    token: Token = None,
    to: Annotated[str | None, typer.Option("--to", help="Version (default: previous)")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    actor: Annotated[str, typer.Option(envvar="USER")] = "pkgctl",
    env: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Go back to the previously active version (audited)."""
    with client(url, token) as pkg:
        show(server(lambda: pkg.rollback(to_version=to, reason=reason, actor=actor, env=env)))


@cli.command()
def status(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """What the server serves, and whether it is healthy (any token with the evaluator role
    shows the metadata; without one, health only)."""
    with client(url, token) as pkg:
        health = server(pkg.health)
        try:
            metadata: dict[str, Any] | None = pkg.metadata()
        except PKGError as exc:
            if exc.status not in (401, 403):
                server_error(exc)
            typer.echo(f"metadata needs a token with the evaluator role ({exc})", err=True)
            metadata = None
        except PKGConnectionError as exc:
            fail(str(exc), code=EXIT_FAILED)
    show({"health": health, "metadata": metadata})
