"""`pkgctl compare`: decide the same facts on two versions and print how the decisions differ
(the reading and the printing are in compare_report.py)."""

from __future__ import annotations

import sys
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import DEFAULT_URL, Token, Url, client, fail, server
from app.entrypoints.cli.compare_report import (
    FactsFileError,
    add_totals,
    chunks,
    describe,
    read_jsonl,
    summary,
)


@cli.command()
def compare(
    a: Annotated[str, typer.Argument(help="The version decisions are compared against")],
    b: Annotated[str, typer.Argument(help="The candidate version")],
    facts_file: Annotated[
        Path | None, typer.Argument(help="JSON Lines: one facts object per line (- for stdin)")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    fixtures_of: Annotated[
        str | None, typer.Option(help="Compare on this version's stored fixtures instead")
    ] = None,
    fail_on_diff: Annotated[bool, typer.Option(help="Exit 1 if any decision differs")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Fact sets per request")] = 100,
) -> None:
    """Decide the same facts on A and B and print how the decisions differ (for CI)."""
    totals: Counter[str] = Counter()
    with client(url, token) as pkg:
        if fixtures_of is not None or facts_file is None:
            body = server(lambda: pkg.compare(a, b, fixtures_of=fixtures_of or a))
            for item in body["items"]:
                _echo_lines(describe(item, label=f"fixture {item['name']!r}"))
            add_totals(totals, body["totals"])
        else:
            for part in chunks(_read_jsonl(facts_file), batch):
                items = [facts for _, facts in part]
                body = server(partial(pkg.compare, a, b, items=items))
                for (number, _facts), item in zip(part, body["items"], strict=True):
                    _echo_lines(describe(item, label=f"line {number}"))
                add_totals(totals, body["totals"])
    typer.echo(summary(a, b, totals))
    if fail_on_diff and totals["different"]:
        raise typer.Exit(1)


def _read_jsonl(facts_file: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = sys.stdin.read() if str(facts_file) == "-" else facts_file.read_text()
        return read_jsonl(text.splitlines())
    except (OSError, FactsFileError) as exc:
        fail(f"{facts_file}: {exc}")


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)
