"""`pkgctl diff A B`: what changed from version A to B, for a reviewer (nothing evaluated)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from pkg_client.call import segment

from app.domain.diff_report import render
from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import DEFAULT_URL, Token, Url, client, server
from app.entrypoints.cli.coverage import get_json


@cli.command("diff")
def diff(
    a: Annotated[str, typer.Argument(help="The version the diff starts from")],
    b: Annotated[str, typer.Argument(help="The candidate version")],
    output: Annotated[
        Literal["markdown", "json", "text"],
        typer.Option("--format", help="markdown (a pull-request comment), json or text"),
    ] = "markdown",
    fail_on_diff: Annotated[bool, typer.Option(help="Exit 1 if the versions differ")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Rules added, removed and changed, subtask types, fixtures and wasm data from A to B."""
    with client(url, token) as pkg:
        body = server(lambda: get_json(pkg, f"/snapshots/{segment(a)}/diff/{segment(b)}"))
    typer.echo(render(body, output), nl=False)
    if fail_on_diff and not body["identical"]:
        raise typer.Exit(1)
