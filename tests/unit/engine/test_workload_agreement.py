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
