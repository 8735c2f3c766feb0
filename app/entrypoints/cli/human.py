"""How `pkgctl` prints a server's answer for people (the default; `--json` prints it as is):
an object as aligned `key  value` lines, a list of objects as a table. Nested values are
shown as compact JSON; `-` stands for null."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

MAX_CELL = 60  # a table cell longer than this is cut, with an ellipsis


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def fields(body: Mapping[str, Any], keys: Sequence[str] | None = None) -> list[str]:
    """`key  value` lines, keys aligned; only `keys` (in that order) if given."""
    names = [k for k in (keys or list(body)) if k in body]
    width = max((len(name) for name in names), default=0)
    return [f"{name.ljust(width)}  {cell(body[name])}" for name in names]


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str) -> list[str]:
    """A header and one line per row, columns padded to their widest cell."""
    if not rows:
        return [empty]
    cells = [[_cut(cell(row.get(column))) for column in columns] for row in rows]
    header = [column.upper() for column in columns]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(columns))]
    return [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    ]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def decision(body: Mapping[str, Any]) -> list[str]:
    """A decision: where it came from, its subtasks, the order between them, the fired rules."""
    head = ("snapshot", "engine", "lane", "deployment_id", "decision_id", "duration_ms")
    lines = fields(body, head)
    subtasks = body.get("subtasks") or []
    lines.append(f"subtasks ({len(subtasks)}):")
    lines += [f"  {s.get('name')} ({s.get('type')}) {cell(s.get('params'))}" for s in subtasks]
    edges = body.get("dag") or []
    if edges:
        lines.append(f"order ({len(edges)}):")
        lines += [f"  {e.get('from')} → {e.get('to')} ({e.get('type')})" for e in edges]
    rules = [str(r.get("rule_name") or r.get("rule_id")) for r in body.get("rules") or []]
    lines.append(f"rules: {', '.join(rules) or '-'}")
    if "result" in body and body["result"] is not None:
        lines.append(f"result: {cell(body['result'])}")
    for step in body.get("explain") or []:
        lines.append(f"explain: {cell(step)}")
    return lines


def validation(run: Mapping[str, Any]) -> list[str]:
    """A validation run: passed or failed, and which fixtures failed how."""
    report = run.get("report") or {}
    verdict = "passed" if run.get("success") else "FAILED"
    lines = [
        f"validation run {run.get('id')}: {verdict} "
        f"({report.get('passed', 0)} passed, {report.get('failed', 0)} failed "
        f"of {report.get('total', 0)})"
    ]
    for failure in report.get("failures") or []:
        lines.append(f"FAIL {failure.get('name')}")
        lines += [f"  {line}" for line in failure.get("mismatches") or []]
    return lines
