"""`render` writes a shared decision (`/evaluate`'s) byte for byte as orjson writes the same
decision built fresh, reusing each rule output's JSON, and falls back to rendering the dicts
whenever the decision is not the plain concatenation of what fired."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from app.api.body import render
from app.domain.dag import SharedDecision
from tests.unit.engine.snapshots import engine_of, workload


def test_shared_decisions_render_as_their_fresh_twins_alone_and_in_batches() -> None:
    generator = workload()
    if generator is None:
        pytest.fail("../shared/bench must be checked out next to the project (CI has it)")
    engine = engine_of(generator.policy_document(100))
    facts_sets = generator.facts(300)
    for _ in range(2):  # the first pass fills the outputs' memos, the second reads them
        shared = [engine.evaluate_shared(f) for f in facts_sets]
        fresh = [engine.evaluate(f) for f in facts_sets]
        assert all(type(d) is SharedDecision for d in shared)
        assert [render(d) for d in shared] == [orjson.dumps(d) for d in fresh]
        assert render({"items": shared[:100]}) == orjson.dumps({"items": fresh[:100]})


def two_rules_with_one_name() -> dict[str, Any]:
    """Rules sharing a name emit the same edge: the dag is deduplicated across them."""
    rule = {
        "name": "same",
        "conditions": [{"type": "TAG", "key": "go", "op": "EXISTS"}],
        "emissions": [
            {"subtask_type": "a"},
            {"subtask_type": "b", "relationship": "ORDERS"},
        ],
    }
    return {
        "version": "v1",
        "subtask_types": {"a": {}, "b": {}},
        "rules": [{**rule, "id": "one"}, {**rule, "id": "two"}],
    }


def test_a_dag_deduplicated_across_rules_is_rendered_from_the_dicts() -> None:
    engine = engine_of(two_rules_with_one_name())
    decision = engine.evaluate_shared({"tags": ["go"]})
    assert len(decision["rules"]) == 2 and len(decision["dag"]) == 1
    assert isinstance(decision, SharedDecision)
    assert decision.fired is None  # not the concatenation of the two rules' edges
    assert render(decision) == orjson.dumps(engine.evaluate({"tags": ["go"]}))


def test_a_decision_whose_lists_were_replaced_renders_what_it_holds() -> None:
    engine = engine_of(two_rules_with_one_name())
    decision = engine.evaluate_shared({"tags": ["go"]})
    decision["subtasks"] = [{"name": "replaced"}]
    decision["extra"] = {"at": 1}
    assert orjson.loads(render(decision))["subtasks"] == [{"name": "replaced"}]
    assert render(decision) == orjson.dumps(dict(decision))
