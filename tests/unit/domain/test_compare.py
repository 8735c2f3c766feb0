"""Comparing decisions: each kind of difference on hand-made snapshots, none against a copy."""

from __future__ import annotations

import copy
from typing import Any

from app.domain.compare import CompareTotals, compare_decisions, is_error
from app.domain.document import parse_policy_document
from app.services.evaluator import PKGEvaluator

BASE: dict[str, Any] = {
    "version": "cmp@1",
    "env": "prod",
    "subtask_types": {
        "check": {"default_params": {"level": "normal"}},
        "notify": {"default_params": {}},
        "assign": {"default_params": {}},
    },
    "rules": [
        {
            "name": "vip_flow",
            "priority": 50,
            "conditions": [{"type": "TAG", "key": "vip", "op": "EXISTS"}],
            "emissions": [
                {"subtask_type": "check", "name": "check"},
                {"subtask_type": "notify", "name": "notify", "relationship": "ORDERS"},
            ],
        },
        {
            "name": "urgent",
            "conditions": [{"type": "SIGNAL", "key": "urgency", "op": ">=", "value": 0.8}],
            "emissions": [{"subtask_type": "assign", "name": "assign"}],
        },
    ],
}
FACTS = {"tags": ["vip"], "signals": {"urgency": 0.9}}


def decide(document: dict[str, Any], facts: dict[str, Any] = FACTS) -> dict[str, Any]:
    evaluator = PKGEvaluator(parse_policy_document(document).to_snapshot())
    return evaluator.evaluate(facts)


def variant(version: str) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document["version"] = version
    return document


def test_a_snapshot_and_its_copy_decide_identically() -> None:
    diff = compare_decisions(decide(BASE), decide(variant("cmp@copy")))
    assert not diff.differs
    assert diff.as_dict()["subtasks"] == {"added": [], "removed": [], "changed": []}


def test_a_new_rule_shows_as_added_subtask_and_fired_rule() -> None:
    b = variant("cmp@2")
    b["rules"].append(
        {
            "name": "escalate_vip",
            "conditions": [{"type": "TAG", "key": "vip", "op": "EXISTS"}],
            "emissions": [{"subtask_type": "notify", "name": "page_manager"}],
        }
    )
    diff = compare_decisions(decide(BASE), decide(b))
    assert diff.differs
    assert diff.subtasks_added == [{"name": "page_manager", "type": "notify", "params": {}}]
    assert diff.rules_added == ["escalate_vip"]
    assert diff.subtasks_removed == [] and diff.rules_removed == []


def test_a_rule_that_no_longer_fires_shows_as_removed() -> None:
    b = variant("cmp@3")
    b["rules"][1]["conditions"][0]["value"] = 0.95
    diff = compare_decisions(decide(BASE), decide(b))
    assert diff.subtasks_removed == [{"name": "assign", "type": "assign", "params": {}}]
    assert diff.rules_removed == ["urgent"]
    assert diff.subtasks_added == []


def test_changed_params_are_reported_with_both_sides() -> None:
    b = variant("cmp@4")
    b["rules"][0]["emissions"][0]["params"] = {"level": "high"}
    diff = compare_decisions(decide(BASE), decide(b))
    assert diff.subtasks_changed == [
        {
            "name": "check",
            "a": {"type": "check", "params": {"level": "normal"}},
            "b": {"type": "check", "params": {"level": "high"}},
        }
    ]
    assert diff.rules_added == diff.rules_removed == []


def test_dag_edges_added_and_removed() -> None:
    b = variant("cmp@5")
    b["rules"][0]["emissions"][1]["relationship"] = "EMITS"  # no more check → notify
    c = variant("cmp@6")
    c["rules"][1]["emissions"].insert(0, {"subtask_type": "check", "name": "triage"})
    c["rules"][1]["emissions"][1]["relationship"] = "ORDERS"  # triage → assign
    removed = compare_decisions(decide(BASE), decide(b))
    assert removed.edges_removed == [{"from": "check", "to": "notify", "type": "sequential"}]
    assert removed.edges_added == [] and removed.subtasks_changed == []
    added = compare_decisions(decide(BASE), decide(c))
    assert added.edges_added == [{"from": "triage", "to": "assign", "type": "sequential"}]


def test_an_error_envelope_is_a_difference_and_counted_as_an_error() -> None:
    served = decide(BASE)
    failed = {
        "subtasks": [],
        "dag": [],
        "rules": [{"rule_id": "error", "error": "boom", "error_type": "RuntimeError"}],
        "snapshot": "cmp@x",
    }
    diff = compare_decisions(served, failed)
    assert is_error(failed) and not is_error(served)
    assert diff.rules_added == ["error"] and set(diff.rules_removed) == {"vip_flow", "urgent"}
    totals = CompareTotals()
    totals.add(diff, a=served, b=failed)
    totals.add(compare_decisions(served, served), a=served, b=served)
    summary = totals.as_dict()
    assert summary["inputs"] == 2 and summary["different"] == 1 and summary["identical"] == 1
    assert summary["errors_b"] == 1 and summary["errors_a"] == 0
    assert summary["subtasks_removed"] == 3 and summary["rules_added"] == 1


def test_raw_wasm_results_that_differ_are_a_difference() -> None:
    a = {"subtasks": [], "dag": [], "rules": [], "result": True}
    b = {"subtasks": [], "dag": [], "rules": [], "result": False}
    assert compare_decisions(a, b).result_changed == {"a": True, "b": False}
    assert not compare_decisions(a, dict(a)).differs
