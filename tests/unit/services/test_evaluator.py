"""PKGEvaluator: one entry point whatever the engine; failures are answers, bad facts are errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from app.domain.document import parse_policy_document
from app.domain.engine import ENGINE_REGISTRY, register_engine
from app.domain.errors import EngineLoadError, FactsError, UnknownEngineError
from app.domain.snapshot import PKGSnapshotData
from app.services.evaluator import PKGEvaluator

DOCUMENT = {
    "version": "unit@1",
    "subtask_types": {"escalate": {"default_params": {"level": "normal", "tags": ["a"]}}},
    "rules": [
        {
            "name": "vip",
            "conditions": [{"type": "TAG", "key": "vip", "op": "EXISTS"}],
            "emissions": [{"subtask_type": "escalate"}],
        }
    ],
}


@pytest.fixture
def snapshot() -> PKGSnapshotData:
    return parse_policy_document(DOCUMENT).to_snapshot()


@pytest.fixture
def custom_engine() -> Iterator[list[PKGSnapshotData]]:
    built: list[PKGSnapshotData] = []

    class Constant:
        def __init__(self, snapshot: PKGSnapshotData) -> None:
            built.append(snapshot)

        def evaluate(self, task_facts: Mapping[str, Any]) -> dict[str, Any]:
            if task_facts.get("explode"):
                raise RuntimeError("engine blew up")
            return {"subtasks": [], "dag": [], "rules": [{"rule_id": "custom"}]}

    register_engine("custom", Constant)
    yield built
    del ENGINE_REGISTRY["custom"]


def test_the_result_names_the_snapshot_and_carries_exactly_the_contracts_keys(
    snapshot: PKGSnapshotData,
) -> None:
    evaluator = PKGEvaluator(snapshot)
    result = evaluator.evaluate({"tags": ["vip"]})
    assert set(result) == {"subtasks", "dag", "rules", "snapshot"}
    assert result["snapshot"] == "unit@1" == evaluator.version
    assert evaluator.engine_type == "native"


def test_loaded_at_is_a_unix_time_as_in_the_seed_and_loaded_at_iso_the_same_instant(
    snapshot: PKGSnapshotData,
) -> None:
    # issue 16 item 8: the seed's API reference says `loaded_at: float`
    evaluator = PKGEvaluator(snapshot)
    assert type(evaluator.loaded_at) is float
    assert evaluator.loaded_at_iso.tzinfo is not None
    assert evaluator.loaded_at_iso.timestamp() == pytest.approx(evaluator.loaded_at, abs=1e-6)


def test_a_wasm_snapshot_without_an_artifact_is_a_value_error(snapshot: PKGSnapshotData) -> None:
    # issue 16 item 8: engine load errors are ValueErrors, as the seed raises
    wasm = dataclasses.replace(snapshot, engine="wasm", wasm_artifact=None, rules=[])
    with pytest.raises(ValueError, match="no wasm artifact") as caught:
        PKGEvaluator(wasm)
    assert isinstance(caught.value, EngineLoadError)


def test_a_wasm_snapshot_whose_artifact_is_not_wasm_is_a_value_error(
    snapshot: PKGSnapshotData,
) -> None:
    import hashlib

    junk = b"not a wasm module"
    wasm = dataclasses.replace(
        snapshot,
        engine="wasm",
        wasm_artifact=junk,
        checksum=hashlib.sha256(junk).hexdigest(),
        rules=[],
    )
    with pytest.raises(ValueError):
        PKGEvaluator(wasm)


def test_a_caller_cannot_change_the_snapshot_through_a_result(snapshot: PKGSnapshotData) -> None:
    evaluator = PKGEvaluator(snapshot)
    first = evaluator.evaluate({"tags": ["vip"]})
    first["subtasks"][0]["params"]["level"] = "changed"
    first["subtasks"][0]["params"]["tags"].append("b")
    again = evaluator.evaluate({"tags": ["vip"]})
    assert again["subtasks"][0]["params"] == {"level": "normal", "tags": ["a"]}


def test_a_registered_engine_is_used_for_snapshots_of_its_type(
    snapshot: PKGSnapshotData, custom_engine: list[PKGSnapshotData]
) -> None:
    custom = dataclasses.replace(snapshot, engine="custom")
    result = PKGEvaluator(custom).evaluate({})
    assert custom_engine == [custom]
    assert result["rules"] == [{"rule_id": "custom"}] and result["snapshot"] == "unit@1"


def test_an_engine_failure_becomes_the_error_envelope(
    snapshot: PKGSnapshotData, custom_engine: list[PKGSnapshotData]
) -> None:
    evaluator = PKGEvaluator(dataclasses.replace(snapshot, engine="custom"))
    assert evaluator.evaluate({"explode": True}) == {
        "subtasks": [],
        "dag": [],
        "rules": [{"rule_id": "error", "error": "engine blew up", "error_type": "RuntimeError"}],
        "snapshot": "unit@1",
    }
    assert evaluator.evaluate({})["rules"] == [{"rule_id": "custom"}]  # still usable


def test_an_unknown_engine_is_a_value_error_naming_it(snapshot: PKGSnapshotData) -> None:
    with pytest.raises(ValueError, match="'prolog'") as caught:
        PKGEvaluator(dataclasses.replace(snapshot, engine="prolog"))
    assert isinstance(caught.value, UnknownEngineError)


@pytest.mark.parametrize(
    ("facts", "loc"),
    [
        (["tags"], "body"),
        ("vip", "body"),
        ({"tags": "vip"}, "tags"),
        ({"signals": {"x": "high"}}, "signals.x"),
        ({"signals": {"x": True}}, "signals.x"),
    ],
)
def test_bad_facts_raise_a_value_error_naming_the_field(
    snapshot: PKGSnapshotData, facts: Any, loc: str
) -> None:
    with pytest.raises(FactsError) as caught:
        PKGEvaluator(snapshot).evaluate(facts)
    assert caught.value.loc == loc and isinstance(caught.value, ValueError)


def test_absurd_nesting_is_refused_not_a_crash(snapshot: PKGSnapshotData) -> None:
    facts: dict[str, Any] = {}
    cursor = facts
    for _ in range(10_000):
        cursor["x"] = {}
        cursor = cursor["x"]
    with pytest.raises(FactsError, match="depth"):
        PKGEvaluator(snapshot).evaluate({"context": facts}, max_facts_depth=32)
