"""Version comparison: the same facts on two stored versions, and how the decisions differ."""

from __future__ import annotations

from typing import Any, Protocol

from app.domain.compare import CompareTotals, compare_decisions
from app.domain.errors import FactsError, NotFoundError
from app.domain.snapshot import PKGSnapshotData
from app.services.evaluator import PKGEvaluator


class CompareSource(Protocol):
    """Where comparison gets evaluators and stored fixtures (the governance service)."""

    async def snapshot(self, version: str) -> PKGSnapshotData: ...

    async def load_evaluator(self, version: str) -> PKGEvaluator: ...

    async def fixtures_of(self, version: str) -> list[dict[str, Any]]: ...


async def compare_versions(
    source: CompareSource,
    a: str,
    b: str,
    *,
    items: list[dict[str, Any]] | None = None,
    fixtures_of: str | None = None,
    max_items: int,
    max_facts_depth: int,
) -> dict[str, Any]:
    """Evaluate each input on `a` and on `b`; per input, whether and how they differ."""
    evaluator_a, evaluator_b = await source.load_evaluator(a), await source.load_evaluator(b)
    inputs = await _inputs(source, items=items, fixtures_of=fixtures_of)
    if len(inputs) > max_items:
        raise FactsError("items", f"at most {max_items} inputs per comparison, got {len(inputs)}")
    totals = CompareTotals()
    results = []
    for index, (name, facts) in enumerate(inputs):
        try:
            decision_a = evaluator_a.evaluate(facts, max_facts_depth=max_facts_depth)
            decision_b = evaluator_b.evaluate(facts, max_facts_depth=max_facts_depth)
        except FactsError as exc:
            raise exc.within(f"items[{index}]") from exc
        diff = compare_decisions(decision_a, decision_b)
        totals.add(diff, a=decision_a, b=decision_b)
        results.append({"index": index, "name": name, **diff.as_dict()})
    return {"a": a, "b": b, "items": results, "totals": totals.as_dict()}


async def _inputs(
    source: CompareSource, *, items: list[dict[str, Any]] | None, fixtures_of: str | None
) -> list[tuple[str | None, dict[str, Any]]]:
    if fixtures_of is None:
        return [(None, facts) for facts in items or []]
    fixtures = await source.fixtures_of(fixtures_of)
    if not fixtures:
        raise NotFoundError(f"snapshot {fixtures_of} has no fixtures to compare with")
    return [(str(f["name"]), dict(f["input"])) for f in fixtures]
