"""Benchmark factories: a policy document → the native engine with the full §3 output.

    python ../shared/bench/run_peers.py --engine bench.engine:factory --engine bench.engine:fresh

`factory` decides as `/evaluate` does (`evaluate_shared`: the subtask, edge and rule dicts of
the answer are the snapshot's own, read on their way to JSON); `fresh` as a Python caller of
`PKGEvaluator.evaluate` gets it, every dict a new one the caller may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.document import ENVIRONMENTS, parse_policy_document
from app.domain.native import NativeRuleEngine


class DocumentEngine:
    """The native engine plus the snapshot version, as `PKGEvaluator` would add it."""

    def __init__(self, document: dict[str, Any], *, shared: bool) -> None:
        if document.get("env") not in ENVIRONMENTS:  # the workload says "bench"
            document["env"] = "dev"
        snapshot = parse_policy_document(document).to_snapshot()
        self.version = snapshot.version
        self.engine = NativeRuleEngine(snapshot)
        self._decide = self.engine.evaluate_shared if shared else self.engine.evaluate

    def evaluate(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        output = self._decide(facts)
        output["snapshot"] = self.version
        return output


def factory(document: dict[str, Any]) -> DocumentEngine:
    """As `/evaluate` decides."""
    return DocumentEngine(document, shared=True)


def fresh(document: dict[str, Any]) -> DocumentEngine:
    """As `PKGEvaluator.evaluate` returns decisions to Python callers."""
    return DocumentEngine(document, shared=False)
