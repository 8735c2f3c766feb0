"""The native rule engine: a snapshot compiled once into indexed closures (DESIGN.md §3).

Compilation sorts the enabled rules into firing order (priority descending, then name, then
document order) and gives each an integer rank. Each rule then picks at most one *anchor*: a
condition that can only hold when the facts carry a particular string — a tag (TAG
EXISTS/=/IN, or a TAG MATCHES pattern) or the string at a path (FACT/VALUE `=`, IN, MATCHES).
An evaluation looks up the facts' tags and anchored paths in those indexes, so it only tests
the rules that could fire (plus the few with no anchor), runs each candidate's remaining
conditions, and sorts the ranks that fired. Lookups are memoised per string, so a regex
anchor costs one search per distinct tag or field value, not one per decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from app.domain.checks import Tests, compile_tests, holds, plain_dict
from app.domain.conditions import (
    MISSING,
    Check,
    Facts,
    Resolver,
    compile_check,
    compile_condition,
    facts_signals,
    facts_tags,
    path_resolver,
    searcher,
)
from app.domain.dag import RuleOutput, assemble, compile_output
from app.domain.snapshot import Condition, PKGSnapshotData, Rule, decode_value

Ranks = tuple[int, ...]
Search = Callable[[Any], bool]
_NO_RANKS: Final[Ranks] = ()
_MEMO_LIMIT: Final = 8192
_MEMO_MAX_LEN: Final = 256
# Compiled by mypyc, this module tests rules through `checks.holds` (one compiled loop over a
# table); interpreted, through `compile_check`'s generated functions (the fastest bytecode).
COMPILED: Final = not __file__.endswith(".py")


# ------------------------------------------------------------------------------------ anchors
@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a rule is indexed: `kind` is tag|eq|in|match, `path` is None for tags."""

    kind: str
    path: str | None
    keys: tuple[str, ...] = ()
    pattern: str | None = None
    cost: float = 1.0


def anchor_of(condition: Mapping[str, Any]) -> Anchor | None:
    """The index entry a condition allows, or None when it must be tested on every decision."""
    kind, op = condition["condition_type"], condition["operator"]
    key, value = condition.get("condition_key"), decode_value(condition.get("value"))
    if kind == "TAG":
        return _tag_anchor(op, key, value)
    if kind in ("FACT", "VALUE") and isinstance(key, str):
        return _path_anchor(op, key, value)
    return None


def _tag_anchor(op: str, key: Any, value: Any) -> Anchor | None:
    if op == "MATCHES" and isinstance(value, str):
        return Anchor("match", None, pattern=value, cost=0.5)
    if op == "IN" and isinstance(value, list):
        return _listed("tag", None, value, unit=0.1)
    if op in ("EXISTS", "=", "IN") and isinstance(key, str):
        return Anchor("tag", None, (key,), cost=0.1)
    return None


def _path_anchor(op: str, path: str, value: Any) -> Anchor | None:
    if op == "=" and type(value) is str:
        return Anchor("eq", path, (value,), cost=0.15)
    if op == "IN" and isinstance(value, list):
        return _listed("in", path, value, unit=0.15)
    if op == "MATCHES" and isinstance(value, str):
        return Anchor("match", path, pattern=value, cost=0.5)
    return None


def _listed(kind: str, path: str | None, values: list[Any], *, unit: float) -> Anchor | None:
    if not all(type(v) is str for v in values):
        return None
    return Anchor(kind, path, tuple(dict.fromkeys(values)), cost=unit * len(values))


def choose_anchor(conditions: Sequence[Mapping[str, Any]]) -> tuple[int, Anchor] | None:
    """The cheapest-looking anchor among a rule's conditions, with the condition's index."""
    options = [(i, a) for i, c in enumerate(conditions) if (a := anchor_of(c)) is not None]
    return min(options, key=lambda pair: pair[1].cost) if options else None


@dataclass(slots=True)
class StringIndex:
    """Ranks keyed by one string (a tag, or the value at one path), memoised per string."""

    exact: dict[str, list[int]] = field(default_factory=dict)
    members: dict[str, list[int]] = field(default_factory=dict)  # IN: also list elements
    patterns: list[tuple[Search, list[int]]] = field(default_factory=list)
    memo: dict[str, Ranks] = field(default_factory=dict)

    def add(self, anchor: Anchor, rank: int) -> None:
        if anchor.kind == "match":
            self.patterns.append((searcher(anchor.pattern), [rank]))
            return
        table = self.members if anchor.kind == "in" else self.exact
        for key in anchor.keys:
            table.setdefault(key, []).append(rank)

    def ranks(self, text: str) -> Ranks:
        """Rules whose anchor holds when this string is the tag or the field's value."""
        hit = self.memo.get(text)
        if hit is None:
            found = [*self.exact.get(text, ()), *self.members.get(text, ())]
            found += [r for search, ranks in self.patterns if search(text) for r in ranks]
            hit = tuple(found) if found else _NO_RANKS
            if len(text) <= _MEMO_MAX_LEN:
                if len(self.memo) >= _MEMO_LIMIT:
                    self.memo.clear()
                self.memo[text] = hit
        return hit

    def element_ranks(self, items: list[Any]) -> list[int]:
        """A list field: only IN anchors hold (overlap), through its string elements."""
        members = self.members
        return [r for item in items if type(item) is str for r in members.get(item, ())]


@dataclass(frozen=True, slots=True)
class PathIndex:
    path: str
    resolve: Resolver
    index: StringIndex


# -------------------------------------------------------------------------------------- rules
@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A snapshot rule with its conditions in position order (what `explain` walks)."""

    rule: Rule
    conditions: tuple[Condition, ...]
    disabled: bool


def firing_order(rules: Iterable[Rule]) -> list[Rule]:
    """Priority descending, then rule name, then document order (disabled rules included)."""
    indexed = list(enumerate(rules))
    indexed.sort(key=lambda p: (-p[1]["priority"], p[1]["rule_name"], p[0]))
    return [rule for _, rule in indexed]


def compile_rule(rule: Rule) -> CompiledRule:
    conditions = rule["conditions"]  # normalised: in position order
    return CompiledRule(
        rule=rule,
        conditions=tuple(conditions),
        disabled=bool(rule.get("disabled", False)),
    )


# ------------------------------------------------------------------------------------- engine
class NativeRuleEngine:
    """Evaluates task facts against one snapshot. Its decisions never change after
    construction; only internal, bounded memo caches of regex and index lookups grow.

    `evaluate` returns `{"subtasks", "dag", "rules"}`; `PKGEvaluator` adds `"snapshot"`.
    """

    def __init__(self, snapshot: PKGSnapshotData) -> None:
        self.snapshot = snapshot
        self._ordered = [compile_rule(r) for r in firing_order(snapshot.rules)]
        enabled = [c for c in self._ordered if not c.disabled]
        names = [c.rule["rule_name"] for c in enabled]
        self._dedupe_across = len(set(names)) != len(names)
        self._outputs: list[RuleOutput] = [
            compile_output(c.rule, snapshot.subtask_types) for c in enabled
        ]
        self._checks: list[Check] = []
        self._tests: list[Tests] = []
        self._unanchored: list[int] = []
        self._tags = StringIndex()
        self._paths: dict[str, PathIndex] = {}
        for rank, compiled in enumerate(enabled):
            self._index_rule(rank, compiled)
        self._path_list = tuple(self._paths.values())
        self._has_tags = bool(self._tags.exact or self._tags.members or self._tags.patterns)

    def _index_rule(self, rank: int, compiled: CompiledRule) -> None:
        chosen = choose_anchor(compiled.conditions)
        remaining = list(compiled.conditions)
        if chosen is None:
            self._unanchored.append(rank)
        else:
            position, anchor = chosen
            del remaining[position]  # implied by being found through the anchor
            self._index_for(anchor).add(anchor, rank)
        if COMPILED:
            self._tests.append(compile_tests(remaining))
        else:
            self._checks.append(compile_check(remaining))

    def _index_for(self, anchor: Anchor) -> StringIndex:
        if anchor.path is None:
            return self._tags
        entry = self._paths.get(anchor.path)
        if entry is None:
            entry = PathIndex(anchor.path, path_resolver(anchor.path), StringIndex())
            self._paths[anchor.path] = entry
        return entry.index

    def candidates(self, facts: Facts, tags: Sequence[Any]) -> set[int]:
        """Ranks of the rules that could fire: anchors that hold, plus unanchored rules.

        The memo tables are read inline (a hit is the common case; `ranks` fills a miss)."""
        found = set(self._unanchored)
        if self._has_tags:
            index = self._tags
            memo = index.memo
            for tag in tags:
                if type(tag) is str:
                    hit = memo.get(tag)
                    if hit is None:
                        hit = index.ranks(tag)
                    if hit:
                        found.update(hit)
        for entry in self._path_list:
            value = entry.resolve(facts)
            if type(value) is str:
                index = entry.index
                hit = index.memo.get(value)
                if hit is None:
                    hit = index.ranks(value)
                if hit:
                    found.update(hit)
            elif value is not MISSING and isinstance(value, list):
                found.update(entry.index.element_ranks(value))
        return found

    def evaluate(self, task_facts: Mapping[str, Any]) -> dict[str, Any]:
        return self._decide(task_facts, fresh=True)

    def evaluate_shared(self, task_facts: Mapping[str, Any]) -> dict[str, Any]:
        """`evaluate`, with the subtask, edge and rule dicts shared with the snapshot: for a
        decision that is only read (rendered, logged, compared), never changed."""
        return self._decide(task_facts, fresh=False)

    def _decide(self, task_facts: Mapping[str, Any], *, fresh: bool) -> dict[str, Any]:
        outputs = self._outputs
        tags, signals = facts_tags(task_facts), facts_signals(task_facts)
        found = sorted(self.candidates(task_facts, tags))
        if COMPILED:  # the table; a rule with nothing left to test fires without a call
            tests, facts, fields = self._tests, plain_dict(task_facts), plain_dict(signals)
            fired = [
                outputs[rank]
                for rank in found
                if not (rule := tests[rank]) or holds(rule, facts, tags, fields)
            ]
        else:  # the generated functions
            checks = self._checks
            fired = [outputs[r] for r in found if checks[r](task_facts, tags, signals)]
        return assemble(fired, dedupe_across=self._dedupe_across, fresh=fresh)

    def explain(self, task_facts: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every rule in evaluation order (disabled ones too) with each condition's outcome."""
        return [_explain_rule(compiled, task_facts) for compiled in self._ordered]


def _explain_rule(compiled: CompiledRule, facts: Mapping[str, Any]) -> dict[str, Any]:
    rule = compiled.rule
    conditions = [
        {
            "condition_type": c["condition_type"],
            "condition_key": c.get("condition_key"),
            "operator": c["operator"],
            "value": decode_value(c.get("value")),
            "held": bool(compile_condition(c)(facts)),  # explain is rare: compile on demand
        }
        for c in compiled.conditions
    ]
    return {
        "rule_id": rule["id"],
        "rule_name": rule["rule_name"],
        "fired": not compiled.disabled and all(c["held"] for c in conditions),
        "disabled": compiled.disabled,
        "conditions": conditions,
    }
