"""The native engine end to end: order, disabled rules, output shape, isolation, explain."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.engine import ENGINE_REGISTRY, build_engine
from app.domain.native import NativeRuleEngine
from tests.unit.engine.snapshots import engine_of, snapshot_of

VIP = {"type": "TAG", "key": "vip", "op": "EXISTS"}


def rule(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "conditions": [VIP], "emissions": [{"subtask_type": "t"}], **extra}


def document(*rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"version": "v1", "subtask_types": {"t": {}}, "rules": list(rules), **extra}


def fired(doc: dict[str, Any], facts: dict[str, Any] | None = None) -> list[str]:
    output = engine_of(doc).evaluate(facts if facts is not None else {"tags": ["vip"]})
    return [r["rule_name"] for r in output["rules"]]


def test_rules_fire_by_priority_descending_then_name_then_document_order() -> None:
    doc = document(
        rule("b", priority=5),
        rule("a", priority=5),
        rule("z", priority=50),
        rule("default"),
        rule("a", priority=5, id="second-a"),
    )
    output = engine_of(doc).evaluate({"tags": ["vip"]})
    assert [r["rule_name"] for r in output["rules"]] == ["default", "z", "a", "a", "b"]
    assert [r["rule_id"] for r in output["rules"]][2:4] == ["rule-1", "second-a"]


def test_disabled_rules_never_fire() -> None:
    doc = document(rule("on"), rule("off", disabled=True), {"name": "bare", "disabled": True})
    assert fired(doc) == ["on"]
    assert fired(doc, {}) == []


def test_a_rule_without_conditions_always_fires() -> None:
    assert fired(document({"name": "always", "emissions": []}), {}) == ["always"]


def test_conditions_are_anded() -> None:
    high = {"type": "SIGNAL", "key": "u", "op": ">", "value": 0.5}
    doc = document(rule("both", conditions=[VIP, high]))
    assert fired(doc, {"tags": ["vip"], "signals": {"u": 0.9}}) == ["both"]
    assert fired(doc, {"tags": ["vip"], "signals": {"u": 0.1}}) == []
    assert fired(doc, {"signals": {"u": 0.9}}) == []


def test_output_has_the_contract_shape_and_provenance() -> None:
    doc = document(rule("r", priority=7, id="rid", metadata={"note": 1}))
    output = engine_of(doc).evaluate({"tags": ["vip"]})
    assert set(output) == {"subtasks", "dag", "rules"}
    assert output["subtasks"] == [
        {"name": "t", "type": "t", "params": {}, "rule_id": "rid", "rule_name": "r"}
    ]
    assert output["rules"] == [
        {
            "rule_id": "rid",
            "rule_name": "r",
            "rule_priority": 7,
            "weight": 1.0,
            "matched_conditions": 1,
            "emissions_count": 1,
        }
    ]


def test_mutating_a_result_does_not_change_the_next_result() -> None:
    doc = document(
        rule(
            "r",
            emissions=[
                {"subtask_type": "t", "name": "a", "params": {"deep": {"n": [1]}, "flat": 1}},
                {"subtask_type": "t", "name": "b", "relationship": "ORDERS"},
            ],
        ),
        subtask_types={"t": {"default_params": {"level": "normal", "tags": ["x"]}}},
    )
    engine = engine_of(doc)
    first = engine.evaluate({"tags": ["vip"]})
    expected = engine.evaluate({"tags": ["vip"]})
    first["subtasks"][0]["params"]["deep"]["n"].append(2)
    first["subtasks"][0]["params"]["tags"].append("y")
    first["subtasks"][1]["params"]["level"] = "changed"
    first["dag"][0]["from"] = "changed"
    first["rules"][0]["weight"] = 0.0
    first["subtasks"][0]["name"] = "changed"
    assert engine.evaluate({"tags": ["vip"]}) == expected


def test_candidates_found_through_different_anchors_fire_once_in_order() -> None:
    listed = {"type": "TAG", "key": "a", "op": "IN", "value": ["a", "b"]}
    domain = {"type": "FACT", "key": "context.domain", "op": "=", "value": "spa"}
    doc = document(
        rule("in", conditions=[listed], priority=3),
        rule("eq", conditions=[domain], priority=2),
        rule("tag", priority=1),
    )
    facts = {"tags": ["b", "a", "vip", "a"], "context": {"domain": "spa"}}
    assert fired(doc, facts) == ["in", "eq", "tag"]


def test_native_engine_is_registered_for_native_snapshots() -> None:
    assert ENGINE_REGISTRY["native"] is NativeRuleEngine
    assert isinstance(build_engine(snapshot_of(document(rule("r")))), NativeRuleEngine)


def test_explain_reports_every_rule_and_condition_in_evaluation_order() -> None:
    low = {"type": "SIGNAL", "key": "u", "op": "<", "value": 0.5}
    doc = document(
        rule("off", disabled=True, priority=9),
        rule("partly", conditions=[VIP, low], priority=5),
        rule("yes"),
    )
    explained = engine_of(doc).explain({"tags": ["vip"], "signals": {"u": 0.9}})
    assert [(e["rule_name"], e["fired"], e["disabled"]) for e in explained] == [
        ("yes", True, False),
        ("off", False, True),
        ("partly", False, False),
    ]
    assert explained[2]["conditions"] == [
        {
            "condition_type": "TAG",
            "condition_key": "vip",
            "operator": "EXISTS",
            "value": None,
            "held": True,
        },
        {
            "condition_type": "SIGNAL",
            "condition_key": "u",
            "operator": "<",
            "value": 0.5,
            "held": False,
        },
    ]
    assert explained[1]["conditions"][0]["held"] is True


def test_rules_sharing_a_name_keep_their_edges_once() -> None:
    ordered = {
        "name": "twin",
        "conditions": [],
        "emissions": [
            {"subtask_type": "t", "name": "a"},
            {"subtask_type": "t", "name": "b", "relationship": "ORDERS"},
        ],
    }
    output = engine_of(document(ordered, ordered)).evaluate({})
    assert len(output["rules"]) == 2
    assert [(e["from"], e["to"]) for e in output["dag"]] == [("a", "b")]


def test_invalid_regex_in_a_snapshot_refuses_to_compile() -> None:
    bad = {"type": "FACT", "key": "x", "op": "MATCHES", "value": "(a)\\1"}
    with pytest.raises(ValueError, match="RE2"):
        engine_of(document(rule("r", conditions=[bad])))
