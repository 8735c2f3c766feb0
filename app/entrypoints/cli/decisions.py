"""`pkgctl decisions`: the decisions a server logged, one or many."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import DEFAULT_URL, Token, Url, client, server, show


@cli.command()
def decisions(
    decision_id: Annotated[str | None, typer.Argument(help="One decision, by its id")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    version: Annotated[str | None, typer.Option(help="Only this snapshot version")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time, inclusive")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 20,
) -> None:
    """Print logged decisions (the server needs PKG_DECISION_LOG=database; admin token)."""
    with client(url, token) as pkg:
        if decision_id is not None:
            show(server(lambda: pkg.decision(decision_id)))
            return
        records = server(lambda: pkg.decisions(version=version, since=since, limit=limit))
    for record in records:
        typer.echo(json.dumps(record, sort_keys=True, default=str))
