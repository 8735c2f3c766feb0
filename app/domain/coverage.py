"""Coverage: which rules and conditions a policy's fixtures exercise (like `opa test
--coverage`), and which rules live traffic made fire (docs/lifecycle.md, "Coverage").

Fixture coverage is measured from the engine's `explain` trace, one per fixture:

- a rule is *covered* when at least one fixture makes it fire;
- a condition is *covered* when at least one fixture makes it hold and at least one makes it
  false (each condition is judged on its own, as `explain` reports it, whether or not the
  rule's other conditions held);
- disabled rules, and their conditions, are listed but not counted: nothing can make them fire;
- `percent` = 100 × (covered rules + covered conditions) / (rules + conditions); a policy with
  nothing to count is 100 % covered.

An engine without a trace (wasm) lists no rules of its own: its coverage is the rules its
results reported as fired, with `available: false` and no share.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from app.domain.compare import is_error
from app.domain.document import Fixture
from app.domain.snapshot import Rule, decode_value

Trace = list[dict[str, Any]]
Explain = Callable[[dict[str, Any]], Trace | None]
Evaluate = Callable[[dict[str, Any]], Mapping[str, Any]]
NOT_AVAILABLE: Final = (
    "not available for {engine}: the module does not list its rules, so no share can be "
    "computed; `fired` lists the rules its results reported"
)
NEVER_FIRED_NOT_AVAILABLE: Final = (
    "never_fired is not available for {engine}: the module does not list its rules; `rules` "
    "lists those its results reported"
)


def condition_text(condition: Mapping[str, Any]) -> str:
    """`SIGNAL urgency >= 0.7`, `TAG vip EXISTS`, `FACT context.domain = "hotel"`."""
    value = decode_value(condition.get("value"))
    parts = [str(condition["condition_type"]), str(condition.get("condition_key") or "")]
    parts.append(str(condition["operator"]))
    if value is not None:
        parts.append(json.dumps(value, sort_keys=True, ensure_ascii=False))
    return " ".join(part for part in parts if part)


def percent(covered: int, total: int) -> float:
    return round(100.0 * covered / total, 2) if total else 100.0


# ------------------------------------------------------------------------------ fixtures
def fixture_coverage(
    fixtures: Sequence[Fixture], *, explain: Explain, evaluate: Evaluate, engine: str
) -> dict[str, Any]:
    """Coverage of a policy by its fixtures: from `explain` traces, else from fired rules."""
    traces = []
    for fixture in fixtures:
        trace = explain(dict(fixture.input))
        if trace is None:
            return fired_rule_coverage(fixtures, evaluate=evaluate, engine=engine)
        traces.append((fixture.name, trace))
    return trace_coverage(traces, engine=engine)


def trace_coverage(traces: Sequence[tuple[str, Trace]], *, engine: str) -> dict[str, Any]:
    """Fold `(fixture name, explain trace)` pairs into per-rule and per-condition coverage."""
    rules: dict[str, dict[str, Any]] = {}
    for name, trace in traces:
        for step in trace:
            _fold_rule(rules.setdefault(str(step["rule_id"]), _rule_entry(step)), step, name)
    entries = [_finish_rule(entry) for entry in rules.values()]
    return _summary(entries, fixtures=len(traces), engine=engine)


def _rule_entry(step: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rule_id": step["rule_id"],
        "rule_name": step["rule_name"],
        "disabled": bool(step.get("disabled")),
        "fired_by": [],
        "conditions": [
            {
                "position": index,
                "condition": condition_text(condition),
                "held_by": [],
                "false_by": [],
            }
            for index, condition in enumerate(step.get("conditions") or ())
        ],
    }


def _fold_rule(entry: dict[str, Any], step: Mapping[str, Any], fixture: str) -> None:
    if step.get("fired"):
        entry["fired_by"].append(fixture)
    for condition, outcome in zip(entry["conditions"], step.get("conditions") or (), strict=True):
        condition["held_by" if outcome.get("held") else "false_by"].append(fixture)


def _finish_rule(entry: dict[str, Any]) -> dict[str, Any]:
    counted = not entry["disabled"]
    for condition in entry["conditions"]:
        condition["covered"] = counted and bool(condition["held_by"] and condition["false_by"])
    entry["covered"] = counted and bool(entry["fired_by"])
    return entry


def _summary(entries: list[dict[str, Any]], *, fixtures: int, engine: str) -> dict[str, Any]:
    counted = [e for e in entries if not e["disabled"]]
    conditions = [c for e in counted for c in e["conditions"]]
    rules_covered = sum(e["covered"] for e in counted)
    conditions_covered = sum(c["covered"] for c in conditions)
    return {
        "engine": engine,
        "available": True,
        "fixtures": fixtures,
        "percent": percent(rules_covered + conditions_covered, len(counted) + len(conditions)),
        "rules_covered": rules_covered,
        "rules_total": len(counted),
        "rules_percent": percent(rules_covered, len(counted)),
        "conditions_covered": conditions_covered,
        "conditions_total": len(conditions),
        "conditions_percent": percent(conditions_covered, len(conditions)),
        "uncovered_rules": [e["rule_name"] for e in counted if not e["covered"]],
        "uncovered_conditions": [
            f"{e['rule_name']}[{c['position']}]: {c['condition']}"
            for e in counted
            for c in e["conditions"]
            if not c["covered"]
        ],
        "rules": entries,
    }


def fired_rule_coverage(
    fixtures: Sequence[Fixture], *, evaluate: Evaluate, engine: str
) -> dict[str, Any]:
    """What an engine without a trace allows: the rules its results said fired, by fixture."""
    fired: dict[str, list[str]] = {}
    for fixture in fixtures:
        for rule in fired_rules(evaluate(dict(fixture.input))):
            fired.setdefault(rule, []).append(fixture.name)
    return {
        "engine": engine,
        "available": False,
        "reason": NOT_AVAILABLE.format(engine=engine),
        "fixtures": len(fixtures),
        "percent": None,
        "fired": [{"rule": rule, "fired_by": names} for rule, names in fired.items()],
    }


def fired_rules(decision: Mapping[str, Any]) -> list[str]:
    """The names of the rules a decision reports as fired (none for the error envelope)."""
    if is_error(decision):
        return []
    rules = decision.get("rules")
    if not isinstance(rules, list):
        return []
    names = (_rule_label(rule) for rule in rules if isinstance(rule, Mapping))
    return [name for name in names if name]


def _rule_label(rule: Mapping[str, Any]) -> str | None:
    label = rule.get("rule_name") or rule.get("rule_id")
    return label if isinstance(label, str) else None


# ------------------------------------------------------------------------------ production
def production_coverage(
    rules: Sequence[Rule],
    counts: Iterable[Mapping[str, Any]],
    decisions: Iterable[Mapping[str, Any]],
    *,
    engine: str,
) -> dict[str, Any]:
    """How often each rule fired across the fleet, from replicas' `(replica, rule, fired)` and
    `(replica, decisions, errors)` rows of a window; and the enabled rules that never fired."""
    fired: dict[str, int] = {}
    by_replica: dict[str, dict[str, int]] = {}
    for row in counts:
        rule, replica, count = str(row["rule"]), str(row["replica"]), int(row["fired"])
        fired[rule] = fired.get(rule, 0) + count
        replica_entry = by_replica.setdefault(replica, {"decisions": 0, "errors": 0, "fired": 0})
        replica_entry["fired"] += count
    for row in decisions:
        replica_entry = by_replica.setdefault(
            str(row["replica"]), {"decisions": 0, "errors": 0, "fired": 0}
        )
        replica_entry["decisions"] += int(row["decisions"])
        replica_entry["errors"] += int(row["errors"])
    total = sum(entry["decisions"] for entry in by_replica.values())
    report = _rule_rows(rules, fired, total=total)
    known = bool(rules) or engine != "wasm"
    return {
        "engine": engine,
        "decisions": total,
        "errors": sum(entry["errors"] for entry in by_replica.values()),
        "replicas": [{"replica": name, **entry} for name, entry in sorted(by_replica.items())],
        "rules": report,
        "never_fired": [r["rule_name"] for r in report if r["fired"] == 0 and not r["disabled"]]
        if known
        else None,
        "note": None if known else NEVER_FIRED_NOT_AVAILABLE.format(engine=engine),
    }


def _rule_rows(rules: Sequence[Rule], fired: dict[str, int], *, total: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "rule_name": rule["rule_name"],
            "disabled": rule["disabled"],
            "fired": fired.pop(rule["rule_name"], 0),
        }
        for rule in rules
    ]
    rows += [{"rule_name": name, "disabled": False, "fired": n} for name, n in fired.items()]
    for row in rows:
        row["share"] = round(row["fired"] / total, 6) if total else None
    rows.sort(key=lambda row: (-row["fired"], row["rule_name"]))
    return rows
