"""How two decisions for the same facts differ (version comparison and shadow lanes).

Pure and sync: two decisions in (`{"subtasks", "dag", "rules", ...}`), one `DecisionDiff` out.
Subtasks are matched by name (the n-th subtask of a name with the n-th of the same name), edges
by (from, to, type), fired rules by name (the error envelope's rule by its `rule_id`, `error`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

ERROR_RULE_ID: Final = "error"
DIFF_KINDS: Final = (
    "subtasks_added",
    "subtasks_removed",
    "subtasks_changed",
    "edges_added",
    "edges_removed",
    "rules_added",
    "rules_removed",
)


@dataclass(frozen=True)
class DecisionDiff:
    """What B decides differently from A. Empty lists everywhere: the decisions agree."""

    subtasks_added: list[dict[str, Any]] = field(default_factory=list)
    subtasks_removed: list[dict[str, Any]] = field(default_factory=list)
    subtasks_changed: list[dict[str, Any]] = field(default_factory=list)
    edges_added: list[dict[str, Any]] = field(default_factory=list)
    edges_removed: list[dict[str, Any]] = field(default_factory=list)
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)
    result_changed: dict[str, Any] | None = None  # wasm: the raw decisions, when they differ

    @property
    def differs(self) -> bool:
        return self.result_changed is not None or any(getattr(self, k) for k in DIFF_KINDS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "differs": self.differs,
            "subtasks": {
                "added": self.subtasks_added,
                "removed": self.subtasks_removed,
                "changed": self.subtasks_changed,
            },
            "dag": {"added": self.edges_added, "removed": self.edges_removed},
            "rules": {"added": self.rules_added, "removed": self.rules_removed},
            "result": self.result_changed,
        }


def is_error(decision: Mapping[str, Any]) -> bool:
    """True for the error envelope (an engine failed on these facts)."""
    rules = decision.get("rules") or ()
    return any(isinstance(r, Mapping) and r.get("rule_id") == ERROR_RULE_ID for r in rules)


NO_DIFFERENCE: Final = DecisionDiff()


def compare_decisions(a: Mapping[str, Any], b: Mapping[str, Any]) -> DecisionDiff:
    if _outline(a) == _outline(b):
        return NO_DIFFERENCE  # the common case, and what shadow lanes pay for on every request
    subtasks_a, subtasks_b = _keyed_subtasks(a), _keyed_subtasks(b)
    edges_a, edges_b = _keyed_edges(a), _keyed_edges(b)
    rules_a, rules_b = _rule_names(a), _rule_names(b)
    changed = []
    for key in subtasks_a.keys() & subtasks_b.keys():
        shape_a, shape_b = _shape(subtasks_a[key]), _shape(subtasks_b[key])
        if shape_a != shape_b:
            changed.append({"name": key[0], "a": shape_a, "b": shape_b})
    result_a, result_b = a.get("result"), b.get("result")
    return DecisionDiff(
        subtasks_added=[_shape(subtasks_b[k], name=True) for k in _new(subtasks_a, subtasks_b)],
        subtasks_removed=[_shape(subtasks_a[k], name=True) for k in _new(subtasks_b, subtasks_a)],
        subtasks_changed=sorted(changed, key=lambda c: str(c["name"])),
        edges_added=[edges_b[k] for k in _new(edges_a, edges_b)],
        edges_removed=[edges_a[k] for k in _new(edges_b, edges_a)],
        rules_added=sorted((rules_b - rules_a).elements()),
        rules_removed=sorted((rules_a - rules_b).elements()),
        result_changed=None if result_a == result_b else {"a": result_a, "b": result_b},
    )


def _outline(decision: Mapping[str, Any]) -> tuple[Any, ...]:
    """Everything the comparison looks at, in order: equal outlines never differ."""
    return (
        [(s.get("name"), s.get("type"), s.get("params")) for s in _items(decision.get("subtasks"))],
        [(e.get("from"), e.get("to"), e.get("type")) for e in _items(decision.get("dag"))],
        [r.get("rule_name") or r.get("rule_id") for r in _items(decision.get("rules"))],
        decision.get("result"),
    )


def _new(old: Mapping[Any, Any], new: Mapping[Any, Any]) -> list[Any]:
    """Keys of `new` that `old` lacks, in `new`'s order."""
    return [key for key in new if key not in old]


def _keyed_subtasks(decision: Mapping[str, Any]) -> dict[tuple[str, int], Mapping[str, Any]]:
    seen: Counter[str] = Counter()
    keyed: dict[tuple[str, int], Mapping[str, Any]] = {}
    for subtask in _items(decision.get("subtasks")):
        name = str(subtask.get("name"))
        keyed[(name, seen[name])] = subtask
        seen[name] += 1
    return keyed


def _shape(subtask: Mapping[str, Any], *, name: bool = False) -> dict[str, Any]:
    shape = {"type": subtask.get("type"), "params": subtask.get("params") or {}}
    return {"name": subtask.get("name"), **shape} if name else shape


def _keyed_edges(decision: Mapping[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    keyed: dict[tuple[str, str, str], dict[str, Any]] = {}
    for edge in _items(decision.get("dag")):
        key = (str(edge.get("from")), str(edge.get("to")), str(edge.get("type")))
        keyed.setdefault(key, {"from": key[0], "to": key[1], "type": key[2]})
    return keyed


def _rule_names(decision: Mapping[str, Any]) -> Counter[str]:
    return Counter(
        str(rule.get("rule_name") or rule.get("rule_id")) for rule in _items(decision.get("rules"))
    )


def _items(value: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, Sequence):
        return ()
    return (item for item in value if isinstance(item, Mapping))


@dataclass
class CompareTotals:
    """Totals over many compared inputs."""

    inputs: int = 0
    different: int = 0
    identical: int = 0
    errors_a: int = 0
    errors_b: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    def add(self, diff: DecisionDiff, *, a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
        self.inputs += 1
        self.different += diff.differs
        self.identical += not diff.differs
        self.errors_a += is_error(a)
        self.errors_b += is_error(b)
        for kind in DIFF_KINDS:
            self.kinds[kind] += len(getattr(diff, kind))
        self.kinds["results_changed"] += diff.result_changed is not None

    def as_dict(self) -> dict[str, int]:
        counts = {kind: self.kinds[kind] for kind in (*DIFF_KINDS, "results_changed")}
        return {
            "inputs": self.inputs,
            "different": self.different,
            "identical": self.identical,
            "errors_a": self.errors_a,
            "errors_b": self.errors_b,
            **counts,
        }
