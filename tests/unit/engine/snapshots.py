"""Test support: policy documents (§2 shape) → snapshots and engines, and the shared oracle.

Deliberately independent of `app.domain.document`: these tests exercise the engine on
documents the validator would refuse too (the engine must still agree with the oracle).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from app.domain.native import NativeRuleEngine
from app.domain.snapshot import PKGSnapshotData, encode_value, native_checksum, normalise_rules

SHARED_BENCH = Path(__file__).parents[3].parent / "shared" / "bench"


def snapshot_rule(rule: dict[str, Any], index: int) -> dict[str, Any]:
    return {
        "id": rule.get("id", f"rule-{index}"),
        "rule_name": rule["name"],
        "priority": rule.get("priority", 100),
        "disabled": rule.get("disabled", False),
        "metadata": rule.get("metadata") or {},
        "conditions": [
            {
                "condition_type": c["type"],
                "condition_key": c.get("key"),
                "operator": c["op"],
                "value": encode_value(c.get("value")),
                "position": position,
            }
            for position, c in enumerate(rule.get("conditions", []))
        ],
        "emissions": [
            {
                "subtask_type": e["subtask_type"],
                "name": e.get("name") or e["subtask_type"],
                "relationship_type": e.get("relationship", "EMITS"),
                "params": e.get("params") or {},
                "position": position,
            }
            for position, e in enumerate(rule.get("emissions", []))
        ],
    }


def snapshot_of(document: dict[str, Any]) -> PKGSnapshotData:
    rules = [snapshot_rule(r, i) for i, r in enumerate(document.get("rules", []))]
    subtask_types = document.get("subtask_types", {})
    return PKGSnapshotData(
        id=1,
        version=document.get("version", "test@1"),
        engine="native",
        wasm_artifact=None,
        checksum=native_checksum(rules, subtask_types),
        rules=normalise_rules(rules),
        subtask_types=subtask_types,
    )


def engine_of(document: dict[str, Any]) -> NativeRuleEngine:
    return NativeRuleEngine(snapshot_of(document))


def one_rule(*conditions: dict[str, Any], **rule: Any) -> dict[str, Any]:
    """A document with one rule `r` emitting subtask `t` under the given conditions."""
    body = {"name": "r", "conditions": list(conditions), "emissions": [{"subtask_type": "t"}]}
    return {"version": "v1", "subtask_types": {"t": {}}, "rules": [{**body, **rule}]}


def fires(condition: dict[str, Any], facts: dict[str, Any]) -> bool:
    return bool(engine_of(one_rule(condition)).evaluate(facts)["rules"])


def _load(name: str) -> ModuleType | None:
    path = SHARED_BENCH / f"{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"shared_bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def reference() -> ModuleType | None:
    """The shared oracle (`reference.evaluate(document, facts)`), when the checkout has it."""
    return _load("reference")


@cache
def workload() -> ModuleType | None:
    return _load("workload")


def comparable(output: dict[str, Any]) -> dict[str, Any]:
    """An output without rule ids (the oracle derives them from names) and without snapshot."""

    def strip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in item.items() if k != "rule_id"} for item in items]

    return {
        "subtasks": strip(output["subtasks"]),
        "dag": output["dag"],
        "rules": strip(output["rules"]),
    }


def straightforward(document: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """A plain evaluation (no index, no generated code): the oracle when reference.py is absent."""
    from app.domain.conditions import compile_condition
    from app.domain.dag import assemble, compile_output
    from app.domain.native import firing_order

    snapshot = snapshot_of(document)
    fired = [
        rule
        for rule in firing_order(snapshot.rules)
        if not rule["disabled"] and all(compile_condition(c)(facts) for c in rule["conditions"])
    ]
    return assemble([compile_output(rule, snapshot.subtask_types) for rule in fired])


def oracle(document: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    module = reference()
    if module is None:
        return straightforward(document, facts)
    output: dict[str, Any] = module.evaluate(document, facts)
    return output
