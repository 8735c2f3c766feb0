"""Fixture expectations are partial: what is given must match, what is not given is ignored."""

from __future__ import annotations

from typing import Any

from app.domain.document import Fixture
from app.domain.fixtures import match_expectation, run_fixtures

RESULT: dict[str, Any] = {
    "subtasks": [
        {"name": "a", "type": "t", "params": {"level": "high", "n": 1}},
        {"name": "b", "type": "t", "params": {}},
    ],
    "dag": [{"from": "a", "to": "b", "type": "sequential", "rule": "r"}],
    "rules": [{"rule_id": "x", "rule_name": "r"}],
}


def test_keys_not_given_are_ignored() -> None:
    assert match_expectation({"subtasks": [{"name": "a"}, {"name": "b"}]}, RESULT) == []
    assert match_expectation({}, RESULT) == []


def test_lists_match_by_length_and_element_wise() -> None:
    assert match_expectation({"subtasks": [{"name": "a"}]}, RESULT) == [
        "subtasks: expected 1 items, got 2"
    ]
    assert match_expectation({"subtasks": [{"name": "b"}, {"name": "a"}]}, RESULT) == [
        "subtasks[0].name: expected 'b', got 'a'",
        "subtasks[1].name: expected 'a', got 'b'",
    ]


def test_nested_values_and_missing_keys_are_reported() -> None:
    problems = match_expectation(
        {"subtasks": [{"params": {"level": "low", "zone": 1}}, {}]}, RESULT
    )
    assert problems == [
        "subtasks[0].params.level: expected 'low', got 'high'",
        "subtasks[0].params.zone: missing (expected 1)",
    ]


def test_booleans_are_not_numbers() -> None:
    assert match_expectation({"n": True}, {"n": 1}) != []
    assert match_expectation({"n": 1.0}, {"n": 1}) == []


def test_a_run_counts_passes_and_failures_with_what_differed() -> None:
    fixtures = [
        Fixture("passes", {"k": 1}, {"subtasks": [{"name": "a"}, {"name": "b"}]}),
        Fixture("fails", {"k": 2}, {"subtasks": []}),
    ]
    seen: list[dict[str, Any]] = []

    def evaluate(facts: dict[str, Any]) -> dict[str, Any]:
        seen.append(facts)
        return RESULT

    report = run_fixtures(evaluate, fixtures)
    assert seen == [{"k": 1}, {"k": 2}]
    assert (report["passed"], report["failed"], report["total"]) == (1, 1, 2)
    failure = report["failures"][0]
    assert failure["name"] == "fails" and failure["expected"] == {"subtasks": []}
    assert failure["actual"]["subtasks"] == RESULT["subtasks"]
    assert failure["mismatches"] == ["subtasks: expected 0 items, got 2"]
