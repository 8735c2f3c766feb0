"""Validation fixtures: run facts through an evaluator and compare with a partial expectation.

`expect` is a partial structural match (DESIGN.md §6): every key given must match, keys not
given are ignored; lists match by length and element-wise; scalars by JSON equality (so `true`
is not `1`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.domain.document import Fixture

Evaluate = Callable[[dict[str, Any]], dict[str, Any]]


def match_expectation(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` differs from the partial `expected`: one line per mismatch."""
    where = path or "result"
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{where}: expected an object, got {_shown(actual)}"]
        problems: list[str] = []
        for key, value in expected.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in actual:
                problems.append(f"{child}: missing (expected {_shown(value)})")
            else:
                problems.extend(match_expectation(value, actual[key], child))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {_shown(actual)}"]
        if len(expected) != len(actual):
            return [f"{where}: expected {len(expected)} items, got {len(actual)}"]
        problems = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problems.extend(match_expectation(want, got, f"{where}[{index}]"))
        return problems
    if not _json_equal(expected, actual):
        return [f"{where}: expected {_shown(expected)}, got {_shown(actual)}"]
    return []


def run_fixtures(evaluate: Evaluate, fixtures: Sequence[Fixture]) -> dict[str, Any]:
    """`{passed, failed, total, failures: [{name, expected, actual, mismatches}]}`."""
    failures: list[dict[str, Any]] = []
    for fixture in fixtures:
        actual = evaluate(dict(fixture.input))
        mismatches = match_expectation(fixture.expect, actual)
        if mismatches:
            failures.append(
                {
                    "name": fixture.name,
                    "expected": fixture.expect,
                    "actual": {k: actual.get(k) for k in ("subtasks", "dag", "rules", "result")},
                    "mismatches": mismatches,
                }
            )
    total = len(fixtures)
    return {
        "passed": total - len(failures),
        "failed": len(failures),
        "total": total,
        "failures": failures,
    }


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
