"""Benchmark factory: a policy document → the native engine with the full §3 output.

python ../shared/bench/run_peers.py --engine bench.engine:factory
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.document import ENVIRONMENTS, parse_policy_document
from app.domain.native import NativeRuleEngine


class DocumentEngine:
    """The native engine plus the snapshot version, as `PKGEvaluator` would add it."""

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("env") not in ENVIRONMENTS:  # the workload says "bench"
            document["env"] = "dev"
        snapshot = parse_policy_document(document).to_snapshot()
        self.version = snapshot.version
        self.engine = NativeRuleEngine(snapshot)

    def evaluate(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        output = self.engine.evaluate(facts)
        output["snapshot"] = self.version
        return output


def factory(document: dict[str, Any]) -> DocumentEngine:
    return DocumentEngine(document)
