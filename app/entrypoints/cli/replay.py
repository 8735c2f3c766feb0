"""`pkgctl replay`: decide the decisions a server logged again on a version, page by page, and
print how its answers differ from what was answered then (`--json` for the whole report).

Each request replays one page (`--page` records, newest first) and names where the next one
starts (`next_cursor`); the pages' reports add up here. On a terminal, progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from functools import partial
from typing import Annotated, Any, Final, TextIO

import typer

from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import DEFAULT_URL, Token, Url, client, server
from app.entrypoints.cli.compare_report import summary

MAX_ITEMS: Final = 100
MAX_EXAMPLES: Final = 10
TOP_RULES: Final = 10
COUNTED: Final = ("records", "replayed", "items_dropped")


@cli.command()
def replay(
    version: Annotated[str, typer.Argument(help="The candidate version to decide them on")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    since: Annotated[
        str | None, typer.Option(help="Records this long ago or later (24h, 30m) or ISO 8601")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Records before this (as --since)")] = None,
    answered_by: Annotated[
        str | None, typer.Option("--version", help="Only records this version answered")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many, newest first")
    ] = None,
    page: Annotated[int, typer.Option(min=1, help="Records per request")] = 5000,
    fail_on_diff: Annotated[bool, typer.Option(help="Exit 1 if any answer differs")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Replay logged decisions on VERSION against what was answered then (admin token; the
    server needs PKG_DECISION_LOG=database)."""
    progress = Progress(sys.stderr)
    report: dict[str, Any] | None = None
    cursor: str | None = None
    with client(url, token) as pkg:
        while True:
            left = None if limit is None else limit - (report or {}).get("records", 0)
            ask = page if left is None else min(page, left)
            call = partial(pkg.replay, version, since=since, until=until, cursor=cursor)
            body = server(partial(call, answered_by=answered_by, limit=ask))
            report = merge(report, body)
            progress.show(report)
            cursor = body["next_cursor"]
            if cursor is None or (left is not None and body["records"] >= left):
                break
    progress.close()
    typer.echo(json.dumps(report, indent=2, sort_keys=True) if as_json else readable(report))
    if fail_on_diff and report["totals"]["different"]:
        raise typer.Exit(1)


class Progress:
    """`replayed N records…` on one line of a terminal; nothing when it is not one."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.on = stream.isatty()

    def show(self, report: dict[str, Any]) -> None:
        if self.on:
            different = report["totals"]["different"]
            self.stream.write(f"\rreplayed {report['records']} records, {different} different…")
            self.stream.flush()

    def close(self) -> None:
        if self.on:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def merge(into: dict[str, Any] | None, page: dict[str, Any]) -> dict[str, Any]:
    """One page's report added to the reports of the pages before it (newer records)."""
    if into is None:
        return page
    merged = dict(page)
    for key in COUNTED:
        merged[key] = into[key] + page[key]
    merged["totals"] = dict(Counter(into["totals"]) + Counter(page["totals"]))
    merged["totals"].update({k: 0 for k in page["totals"] if k not in merged["totals"]})
    merged["divergence"] = (
        merged["totals"]["different"] / merged["replayed"] if merged["replayed"] else None
    )
    paths = Counter(into["unreplayable"]["paths"]) + Counter(page["unreplayable"]["paths"])
    merged["unreplayable"] = {"count": sum(paths.values()), "paths": dict(paths.most_common())}
    merged["rules"] = _rules(into["rules"] + page["rules"])
    offset = into["records"]
    items = into["items"] + [{**item, "index": item["index"] + offset} for item in page["items"]]
    merged["items"], merged["items_dropped"] = (
        items[:MAX_ITEMS],
        merged["items_dropped"] + max(0, len(items) - MAX_ITEMS),
    )
    merged["examples"] = (into["examples"] + page["examples"])[:MAX_EXAMPLES]
    return merged


def _rules(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    more: Counter[str] = Counter()
    less: Counter[str] = Counter()
    for row in rows:
        more[row["rule"]] += row["fired_more"]
        less[row["rule"]] += row["fired_less"]
    merged = [
        {"rule": r, "fired_more": more[r], "fired_less": less[r], "changed": more[r] + less[r]}
        for r in set(more) | set(less)
    ]
    return sorted(merged, key=lambda row: (-row["changed"], row["rule"]))


def readable(report: dict[str, Any]) -> str:
    lines: list[str] = []
    for item in report["items"]:
        lines += _describe(item)
    if report["items_dropped"]:
        lines.append(f"... and {report['items_dropped']} more differing records")
    for row in report["rules"][:TOP_RULES]:
        lines.append(f"rule {row['rule']}: fires in {row['fired_more']} more, "
                     f"{row['fired_less']} fewer")  # fmt: skip
    for example in report["examples"]:
        lines.append(f"example {example['decision_id']}: input {_json(example['input'])}")
        lines.append(f"  then {_json(example['recorded'])}")
        lines.append(f"  now  {_json(example['replayed'])}")
    for path, count in report["unreplayable"]["paths"].items():
        lines.append(f"unreplayable: {count} records mask or drop {path}, which it reads")
    lines.append(summary("recorded", report["version"], Counter(report["totals"])))
    divergence = report["divergence"]
    share = "n/a" if divergence is None else f"{divergence:.2%}"
    lines.append(
        f"{report['records']} records: {report['replayed']} replayed, "
        f"{report['unreplayable']['count']} unreplayable; divergence {share}"
    )
    if report["truncated"]:
        lines.append(f"truncated ({report['truncated_reason']}): older records not replayed")
    return "\n".join(lines)


def _describe(item: dict[str, Any]) -> list[str]:
    """A record keeps subtask and rule names only: the lines name them (no type, no params)."""
    subtasks, rules = item["subtasks"], item["rules"]
    return [
        f"decision {item['decision_id']} ({item['answered_by']}, {item['time']}): differs",
        *(f"  + subtask {s['name']}" for s in subtasks["added"]),
        *(f"  - subtask {s['name']}" for s in subtasks["removed"]),
        *(f"  + rule {name}" for name in rules["added"]),
        *(f"  - rule {name}" for name in rules["removed"]),
    ]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
