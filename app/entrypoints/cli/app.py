"""The `pkgctl` Typer app; the topic modules beside this one add their commands to it."""

from __future__ import annotations

import typer

cli = typer.Typer(
    help="PKG policy service: serve, push, validate, promote, evaluate.",
    no_args_is_help=True,
    add_completion=False,
)
