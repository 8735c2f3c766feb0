"""The stand-in engine for wasm snapshots when wasmtime is not installed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from app.domain.snapshot import PKGSnapshotData

FALLBACK_RULE_ID: Final = "wasm-fallback"


class OpaWasmFallback:
    """Stands in for `OpaWasm` when wasmtime is missing: decides nothing, says why."""

    def __init__(self, snapshot: PKGSnapshotData) -> None:
        self.version = snapshot.version

    def evaluate(self, task_facts: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "subtasks": [],
            "dag": [],
            "rules": [
                {
                    "rule_id": FALLBACK_RULE_ID,
                    "rule_name": FALLBACK_RULE_ID,
                    "reason": "wasm runtime (wasmtime) is not installed; policy not evaluated",
                }
            ],
            "result": None,
        }
