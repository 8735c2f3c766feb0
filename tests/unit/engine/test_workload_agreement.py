"""The shared benchmark workload: 0 mismatches with reference.py at 100 rules."""

from __future__ import annotations

import pytest

from tests.unit.engine.snapshots import comparable, engine_of, reference, workload


def test_first_300_workload_fact_sets_agree_with_the_reference_at_100_rules() -> None:
    oracle, generator = reference(), workload()
    if oracle is None or generator is None:
        pytest.fail("../shared/bench must be checked out next to the project (CI has it)")
    document = generator.policy_document(100)
    engine = engine_of(document)
    reference_engine = oracle.ReferenceEngine(document)
    mismatches = [
        index
        for index, facts in enumerate(generator.facts(300))
        if comparable(engine.evaluate(facts)) != comparable(reference_engine.evaluate(facts))
    ]
    assert mismatches == []


def test_shared_decisions_equal_fresh_ones_and_leave_the_next_fresh_one_alone() -> None:
    """`evaluate_shared` (what /evaluate uses) decides exactly what `evaluate` decides; the
    fresh decisions `evaluate` returns afterwards share nothing with the snapshot."""
    generator = workload()
    if generator is None:
        pytest.fail("../shared/bench must be checked out next to the project (CI has it)")
    engine = engine_of(generator.policy_document(100))
    facts_sets = generator.facts(300)
    assert [engine.evaluate_shared(f) for f in facts_sets] == [
        engine.evaluate(f) for f in facts_sets
    ]
    fired = next(f for f in facts_sets if engine.evaluate(f)["subtasks"])
    fresh = engine.evaluate(fired)
    fresh["subtasks"][0]["params"]["changed"] = True
    fresh["rules"][0]["weight"] = -1.0
    assert engine.evaluate_shared(fired) == engine.evaluate(fired) != fresh
