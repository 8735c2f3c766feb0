"""The `pkgctl` Typer app; the topic modules beside this one add their commands to it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from app.domain.core import describe as decision_core

DISTRIBUTION = "pkg-service"


def plain_metavars(command: Any) -> None:
    """Help that names values as people do (`--reason REASON`, `promote VERSION`) instead of
    Typer's Python types (`<str>`, `<bool>`); flags show no value at all."""
    for param in command.params:
        if param.metavar is not None:
            continue
        descriptor = getattr(param, "type_descriptor", None)  # Typer's own parameters
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif descriptor is not None and descriptor.is_choice:
            param.metavar = "|".join(str(choice) for choice in descriptor.choices or ())
        else:
            param.metavar = _value_name(param, descriptor)
        if getattr(param, "param_type_name", "") == "argument":
            param.display_type_rich = _no_type  # its name says it: VERSION, FILE
    _plain_help_option(command)
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)


def _value_name(param: Any, descriptor: Any) -> str:
    """An argument by its name (VERSION); an option's value by its kind (N, NUMBER, PATH) or,
    for text, by the option's name while that stays short (REASON, URL, else TEXT)."""
    annotation = getattr(descriptor, "annotation", None)
    name = (param.name or "value").upper()
    if getattr(param, "param_type_name", "") == "argument":
        return name
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUMBER"
    if getattr(descriptor, "is_path", False):
        return "PATH"
    return name if len(name) <= 10 else "TEXT"


def _no_type(ctx: Any) -> None:
    return None


def _plain_help_option(command: Any) -> None:
    """`--help` is made when help is first asked for: give it no value name then."""
    made = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option


class PkgctlGroup(TyperGroup):
    """The root group: every command beneath it gets `plain_metavars` once it is built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_metavars(self)


def pkgctl_version() -> str:
    try:
        return installed_version(DISTRIBUTION)
    except PackageNotFoundError:  # a source tree run without installing it
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"pkgctl {pkgctl_version()}")
        typer.echo(f"decision core: {decision_core()}")
        raise typer.Exit()


cli = typer.Typer(
    cls=PkgctlGroup,
    help="PKG policy service: serve, push, validate, promote, evaluate.",
    no_args_is_help=True,
    add_completion=False,
)


@cli.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """PKG policy service: serve, push, validate, promote, evaluate."""
