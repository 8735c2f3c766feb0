"""`pkgctl snapshot list` and `pkgctl snapshot get`: the stored snapshots of a server."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import DEFAULT_URL, JsonOutput, Token, Url, client, output, server
from app.entrypoints.cli.human import fields, table

LIST_COLUMNS = ("version", "env", "engine", "is_active", "rules_count", "created_at")
SNAPSHOT_KEYS = (
    "version",
    "env",
    "engine",
    "is_active",
    "checksum",
    "rules_count",
    "entrypoint",
    "entrypoints",
    "revision",
    "signing_key_id",
    "created_at",
    "activated_at",
    "notes",
)

snapshot = typer.Typer(help="The stored snapshots (policy versions).", no_args_is_help=True)
cli.add_typer(snapshot, name="snapshot")


@snapshot.command("list")
def list_snapshots(
    url: Url = DEFAULT_URL,
    token: Token = None,
    env: Annotated[str | None, typer.Option(help="Only this env")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many")] = 100,
    as_json: JsonOutput = False,
) -> None:
    """Stored snapshots, newest first, one line each."""
    with client(url, token) as pkg:
        rows = server(lambda: pkg.snapshots(env=env, limit=limit))
    output(rows, as_json=as_json, human=lambda r: table(r, LIST_COLUMNS, empty="no snapshots"))


@snapshot.command("get")
def get_snapshot(
    version: Annotated[str, typer.Argument(help="The version, or `active` for the active one")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    env: Annotated[str | None, typer.Option(help="With `active`: this env's")] = None,
    document: Annotated[
        bool, typer.Option("--document", help="Also print its policy document (JSON)")
    ] = False,
    as_json: JsonOutput = False,
) -> None:
    """A stored snapshot (its policy document with --document, or all of it with --json)."""
    with client(url, token) as pkg:
        if version == "active":
            found = server(lambda: pkg.active_snapshot(env=env))
        else:
            found = server(lambda: pkg.snapshot(version))
    output(found, as_json=as_json, human=lambda body: _snapshot(body, document=document))


def _snapshot(body: Mapping[str, Any], *, document: bool) -> list[str]:
    lines = fields(body, SNAPSHOT_KEYS)
    if document:
        lines += ["", json.dumps(body.get("document"), indent=2, sort_keys=True)]
    return lines
