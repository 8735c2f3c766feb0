"""Subtasks and DAG edges: ORDERS, GATE, EMITS, dedupe, params overlay."""

from __future__ import annotations

from typing import Any

from app.domain.dag import assemble, compile_output
from app.domain.snapshot import normalise_rules
from tests.unit.engine.snapshots import engine_of


def emission(name: str, relationship: str = "EMITS", **extra: Any) -> dict[str, Any]:
    return {"subtask_type": "t", "name": name, "relationship": relationship, **extra}


def evaluate(*emissions: dict[str, Any], **rule: Any) -> dict[str, Any]:
    doc = {
        "version": "v1",
        "subtask_types": {"t": {"default_params": {"level": "normal", "queue": "general"}}},
        "rules": [{"name": "r", "conditions": [], "emissions": list(emissions), **rule}],
    }
    return engine_of(doc).evaluate({})


def edges(output: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["from"], e["to"], e["type"]) for e in output["dag"]]


def test_orders_links_each_emission_to_the_previous_one() -> None:
    output = evaluate(emission("a", "ORDERS"), emission("b", "ORDERS"), emission("c", "ORDERS"))
    assert edges(output) == [("a", "b", "sequential"), ("b", "c", "sequential")]
    assert all(e["rule"] == "r" for e in output["dag"])


def test_emits_draws_no_edge_and_there_is_no_implicit_chaining() -> None:
    output = evaluate(emission("a"), emission("b"), emission("c", "ORDERS"))
    assert edges(output) == [("b", "c", "sequential")]


def test_gate_draws_an_edge_from_the_gate_source() -> None:
    output = evaluate(
        emission("a"), emission("b"), emission("c", "GATE"), metadata={"gate_source": "a"}
    )
    assert edges(output) == [("a", "c", "gate")]


def test_gate_without_metadata_or_with_an_unemitted_source_draws_no_edge() -> None:
    assert evaluate(emission("a"), emission("b", "GATE"))["dag"] == []
    unknown = evaluate(emission("a"), emission("b", "GATE"), metadata={"gate_source": "zz"})
    assert unknown["dag"] == []


def test_self_edges_are_dropped_and_duplicates_kept_once() -> None:
    output = evaluate(
        emission("a"),
        emission("a", "ORDERS"),
        emission("b", "GATE"),
        emission("b", "GATE"),
        metadata={"gate_source": "a"},
    )
    assert edges(output) == [("a", "b", "gate")]


def test_params_overlay_the_subtask_type_defaults_one_level_deep() -> None:
    output = evaluate(emission("a", params={"level": "high", "extra": {"k": 1}}), emission("b"))
    assert [s["params"] for s in output["subtasks"]] == [
        {"level": "high", "queue": "general", "extra": {"k": 1}},
        {"level": "normal", "queue": "general"},
    ]


def test_name_defaults_to_the_subtask_type() -> None:
    output = evaluate({"subtask_type": "t"})
    assert output["subtasks"][0]["name"] == "t"


def test_duplicate_rule_names_do_not_repeat_an_edge() -> None:
    rule = {
        "rule_name": "same",
        "id": "x",
        "emissions": [
            {"subtask_type": "t", "name": "a"},
            {"subtask_type": "t", "name": "b", "relationship_type": "ORDERS"},
        ],
    }
    rules = normalise_rules([rule, {**rule, "id": "y"}])  # as a snapshot holds them
    output = assemble([compile_output(r, {}) for r in rules])
    assert len(output["dag"]) == 1
    assert len(output["subtasks"]) == 4
