"""`pkgctl compare`: read fact sets from a JSON Lines file and print a comparison readably."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

ARROW = "→"


class FactsFileError(ValueError):
    """A line of the facts file is not one JSON object."""


def read_jsonl(lines: Iterable[str]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, facts) for every non-blank line; `#` starts a comment line."""
    facts: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise FactsFileError(f"line {number}: not JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise FactsFileError(f"line {number}: expected a JSON object of facts")
        facts.append((number, value))
    return facts


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def add_totals(into: Counter[str], totals: dict[str, int]) -> None:
    for key, value in totals.items():
        into[key] += value


def describe(item: Mapping[str, Any], *, label: str) -> list[str]:
    """The lines for one compared input: a header and one line per difference."""
    if not item["differs"]:
        return []
    lines = [f"{label}: differs"]
    subtasks, dag, rules = item["subtasks"], item["dag"], item["rules"]
    lines += [f"  + subtask {_subtask(s)}" for s in subtasks["added"]]
    lines += [f"  - subtask {_subtask(s)}" for s in subtasks["removed"]]
    lines += [
        f"  ~ subtask {c['name']}: {_shape(c['a'])} {ARROW} {_shape(c['b'])}"
        for c in subtasks["changed"]
    ]
    lines += [f"  + edge {_edge(e)}" for e in dag["added"]]
    lines += [f"  - edge {_edge(e)}" for e in dag["removed"]]
    lines += [f"  + rule {name}" for name in rules["added"]]
    lines += [f"  - rule {name}" for name in rules["removed"]]
    if item.get("result") is not None:
        result = item["result"]
        lines.append(f"  ~ result {_json(result['a'])} {ARROW} {_json(result['b'])}")
    return lines


def summary(a: str, b: str, totals: Counter[str]) -> str:
    return (
        f"{a} {ARROW} {b}: {totals['inputs']} inputs, {totals['different']} different, "
        f"{totals['identical']} identical (subtasks +{totals['subtasks_added']} "
        f"-{totals['subtasks_removed']} ~{totals['subtasks_changed']}, edges "
        f"+{totals['edges_added']} -{totals['edges_removed']}, rules +{totals['rules_added']} "
        f"-{totals['rules_removed']}; errors {totals['errors_a']} {ARROW} {totals['errors_b']})"
    )


def _subtask(subtask: dict[str, Any]) -> str:
    return f"{subtask['name']} ({subtask['type']}) {_json(subtask['params'])}"


def _shape(shape: dict[str, Any]) -> str:
    return f"{shape['type']} {_json(shape['params'])}"


def _edge(edge: dict[str, Any]) -> str:
    return f"{edge['from']} {ARROW} {edge['to']} ({edge['type']})"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
