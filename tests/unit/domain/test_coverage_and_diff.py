"""Issue 25's pure parts: fixture coverage from explain traces, production coverage, the
static diff and its markdown."""

from __future__ import annotations

from typing import Any, cast

from app.domain.coverage import production_coverage, trace_coverage
from app.domain.diff import data_diff, lines_diff, snapshot_diff
from app.domain.diff_report import markdown
from app.domain.snapshot import PKGSnapshotData


def step(name: str, *held: bool, disabled: bool = False) -> dict[str, Any]:
    return {
        "rule_id": name,
        "rule_name": name,
        "disabled": disabled,
        "fired": not disabled and all(held),
        "conditions": [
            {"condition_type": "TAG", "condition_key": f"t{i}", "operator": "EXISTS", "held": h}
            for i, h in enumerate(held)
        ],
    }


def test_a_condition_is_covered_only_when_it_held_once_and_was_false_once() -> None:
    traces = [("a", [step("r", True, True)]), ("b", [step("r", False, True)])]
    coverage = trace_coverage(traces, engine="native")
    rule = coverage["rules"][0]
    assert rule["fired_by"] == ["a"] and rule["covered"]
    assert [c["covered"] for c in rule["conditions"]] == [True, False]
    assert coverage["percent"] == round(100 * 2 / 3, 2)


def test_disabled_rules_are_listed_but_not_counted() -> None:
    coverage = trace_coverage([("a", [step("off", True, disabled=True)])], engine="native")
    assert coverage["rules_total"] == 0 and coverage["percent"] == 100.0
    assert coverage["rules"][0]["disabled"]


def test_production_coverage_adds_replicas_and_lists_rules_that_never_fired() -> None:
    snapshot = PKGSnapshotData(
        1, "v", "native", None, None, cast(Any, [{"rule_name": "a"}, {"rule_name": "b"}])
    )
    counts = [{"replica": "x", "rule": "a", "fired": 2}, {"replica": "y", "rule": "a", "fired": 3}]
    decisions = [
        {"replica": "x", "decisions": 4, "errors": 0},
        {"replica": "y", "decisions": 6, "errors": 1},
    ]
    report = production_coverage(snapshot.rules, counts, decisions, engine="native")
    assert report["decisions"] == 10 and report["errors"] == 1
    assert report["rules"][0] == {"rule_name": "a", "disabled": False, "fired": 5, "share": 0.5}
    assert report["never_fired"] == ["b"]


def test_wasm_production_coverage_cannot_list_rules_that_never_fired() -> None:
    report = production_coverage([], [], [], engine="wasm")
    assert report["never_fired"] is None and "not available for wasm" in report["note"]


def test_lines_diff_tells_reordering_from_change() -> None:
    assert lines_diff(["a", "b"], ["a", "b"]) is None
    assert lines_diff(["a", "b"], ["b", "a"]) == {"added": [], "removed": [], "reordered": True}
    assert lines_diff(["a"], ["c"]) == {"added": ["c"], "removed": ["a"], "reordered": False}


def test_data_diff_uses_json_pointers_and_json_equality() -> None:
    changes, truncated = data_diff({"a/b": 1, "n": 1, "t": True}, {"a/b": 2, "n": 1.0, "t": 1})
    assert changes == [
        {"op": "replace", "path": "/a~1b", "from": 1, "value": 2},
        {"op": "replace", "path": "/t", "from": True, "value": 1},
    ]
    assert not truncated


def test_markdown_never_opens_a_nested_list_with_a_plus_sign() -> None:
    rule = {
        "rule_name": "r",
        "conditions": [{"condition_type": "TAG", "condition_key": "vip", "operator": "EXISTS"}],
    }
    a = PKGSnapshotData(1, "v1", "native", None, None, cast(Any, [rule]))
    b = PKGSnapshotData(2, "v2", "native", None, None, cast(Any, [{**rule, "priority": 5}]))
    text = markdown(snapshot_diff(a, b))
    assert "**1 rule changed**" in text
    assert "priority: `100` → `5`" in text
    assert "- +" not in text
