"""The seed's `PKGSnapshotData.checksum: Optional[str]`: a snapshot built by hand without one is
evaluated (nothing to verify; the evaluator reports the checksum it computed), whatever the
engine; a checksum that is given must still match the content."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from app import PKGEvaluator, PKGSnapshotData
from app.domain.engine import ENGINE_REGISTRY, register_engine
from app.domain.errors import ChecksumMismatchError

HELLO = Path(__file__).parents[3] / "examples" / "wasm" / "hello"

# the seed's usage example (PKG_MODULE_ARCHITECTURE.md, PKGEvaluator), its `rules=[...]` filled in
SEED_RULES: list[dict[str, Any]] = [
    {
        "id": "rule-001",
        "rule_name": "high_priority_vip",
        "priority": 10,
        "conditions": [
            {"condition_type": "TAG", "condition_key": "vip", "operator": "EXISTS"},
            {"condition_type": "SIGNAL", "condition_key": "x2", "operator": ">=", "value": "0.7"},
        ],
        "emissions": [
            {
                "subtask_type": "escalate",
                "name": "escalate_vip",
                "relationship_type": "EMITS",
                "params": {"level": "high"},
            }
        ],
    }
]
SEED_FACTS = {
    "tags": ["vip", "allergen"],
    "signals": {"x2": 0.8, "x6": 0.95},
    "context": {"domain": "hotel_ops", "task_type": "guest_request"},
}


def seed_snapshot(checksum: str | None) -> PKGSnapshotData:
    return PKGSnapshotData(
        id=1,
        version="rules@1.4.0",
        engine="native",
        wasm_artifact=None,
        checksum=checksum,
        rules=SEED_RULES,
    )


def test_the_seeds_usage_example_without_a_checksum_is_evaluated() -> None:
    snapshot = seed_snapshot(None)
    evaluator = PKGEvaluator(snapshot)
    result = evaluator.evaluate(SEED_FACTS)
    assert result["snapshot"] == "rules@1.4.0"
    assert [(s["name"], s["params"]) for s in result["subtasks"]] == [
        ("escalate_vip", {"level": "high"})
    ]
    assert [r["rule_name"] for r in result["rules"]] == ["high_priority_vip"]
    # nothing to verify, so the evaluator reports the checksum it computed from the content
    assert evaluator.checksum == snapshot.content_checksum()
    assert evaluator.snapshot.checksum == evaluator.checksum
    assert len(evaluator.checksum) == 64


def test_a_given_checksum_must_match_the_content() -> None:
    right = seed_snapshot(None).content_checksum()
    assert PKGEvaluator(seed_snapshot(right)).checksum == right
    # the seed's own placeholder is a checksum that is given: it is checked, and it is wrong
    with pytest.raises(ChecksumMismatchError, match="sha256-abc"):
        PKGEvaluator(seed_snapshot("sha256-abc"))


def test_a_wasm_snapshot_without_a_checksum_is_evaluated_and_reports_the_modules() -> None:
    module = bytes(wasmtime.wat2wasm((HELLO / "policy.wat").read_text()))
    snapshot = PKGSnapshotData(
        id=2,
        version="hello-wasm@1.0.0",
        engine="wasm",
        wasm_artifact=module,
        checksum=None,
        rules=[],
        entrypoint="hello/decision",
    )
    evaluator = PKGEvaluator(snapshot)
    result = evaluator.evaluate({"tags": ["vip"]})
    assert [(s["name"], s["params"]) for s in result["subtasks"]] == [
        ("welcome_vip", {"gift": "champagne"})
    ]
    assert result["snapshot"] == "hello-wasm@1.0.0"
    assert evaluator.checksum == snapshot.content_checksum()
    with pytest.raises(ChecksumMismatchError):
        PKGEvaluator(PKGSnapshotData(**{**snapshot.__dict__, "checksum": "0" * 64}))


@pytest.fixture
def custom_engine() -> Iterator[list[PKGSnapshotData]]:
    built: list[PKGSnapshotData] = []

    class Echo:
        def __init__(self, snapshot: PKGSnapshotData) -> None:
            built.append(snapshot)

        def evaluate(self, task_facts: Mapping[str, Any]) -> dict[str, Any]:
            return {"subtasks": [], "dag": [], "rules": [{"rule_id": "echo"}]}

    register_engine("echo", Echo)
    yield built
    del ENGINE_REGISTRY["echo"]


def test_a_custom_engine_gets_the_snapshot_with_the_computed_checksum(
    custom_engine: list[PKGSnapshotData],
) -> None:
    snapshot = PKGSnapshotData(
        id=3, version="echo@1", engine="echo", wasm_artifact=None, checksum=None, rules=SEED_RULES
    )
    evaluator = PKGEvaluator(snapshot)
    assert evaluator.evaluate({"tags": []})["rules"] == [{"rule_id": "echo"}]
    [seen] = custom_engine
    assert seen.checksum == evaluator.checksum == snapshot.content_checksum()
    with pytest.raises(ChecksumMismatchError):
        PKGEvaluator(PKGSnapshotData(**{**snapshot.__dict__, "checksum": "sha256-abc"}))
