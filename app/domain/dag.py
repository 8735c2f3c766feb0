"""Subtasks and DAG edges from fired rules (DESIGN.md §3).

Everything static about a rule's output is computed once per snapshot into a `RuleOutput`:
the subtask templates (params already merged over the subtask type's defaults), the rule's
edges and its provenance entry. Firing a rule then only copies what a caller could mutate, so
no result shares a dict or list with the snapshot or with another result.

Edges: `ORDERS` at position i>0 → from the previous emission (`sequential`); `GATE` → from
`metadata.gate_source` when the same rule emits it (`gate`); `EMITS` → none. Edges are
deduplicated on (from, to, type, rule), keeping the first; self-edges are dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from app.domain.snapshot import DEFAULT_PRIORITY, Emission, Rule

EdgeKey = tuple[Any, Any, str, Any]
SubtaskTypes = Mapping[str, Mapping[str, Any]]
WEIGHT: Final = 1.0


@dataclass(frozen=True, slots=True)
class SubtaskTemplate:
    """One emission, ready to stamp out: `nested` names the params that need a deep copy."""

    name: str
    type: str
    params: dict[str, Any]
    nested: tuple[str, ...]
    rule_id: str
    rule_name: str

    def stamp(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "params": fresh_params(self.params, self.nested),
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
        }


@dataclass(frozen=True, slots=True)
class RuleOutput:
    """The static part of what one rule contributes when it fires."""

    subtasks: tuple[SubtaskTemplate, ...]
    edges: tuple[dict[str, Any], ...]
    provenance: dict[str, Any]
    flat: bool  # no params nest a dict or list: a shallow copy of `templates` is enough
    templates: tuple[dict[str, Any], ...]  # the subtask dicts (shared params: copy them)


def fresh_params(params: dict[str, Any], nested: tuple[str, ...]) -> dict[str, Any]:
    """A copy no caller can use to reach the snapshot: shallow, plus deep for nested values."""
    if not params:
        return {}
    fresh = params.copy()
    for key in nested:
        fresh[key] = copy.deepcopy(fresh[key])
    return fresh


def emission_name(emission: Emission) -> str:
    return emission["name"]  # normalised: defaults to the subtask type


def ordered_emissions(rule: Rule) -> list[Emission]:
    return rule["emissions"]  # normalised: in position order


def rule_id_of(rule: Rule) -> str:
    return rule["id"]  # normalised: defaults to the rule name


def merged_params(emission: Mapping[str, Any], subtask_types: SubtaskTypes) -> dict[str, Any]:
    """The subtask type's `default_params` overlaid (one level) by the emission's params."""
    spec = subtask_types.get(emission["subtask_type"]) or {}
    defaults = spec.get("default_params") or {}
    return copy.deepcopy({**defaults, **(emission.get("params") or {})})


def subtask_templates(rule: Rule, subtask_types: SubtaskTypes) -> tuple[SubtaskTemplate, ...]:
    rule_id, rule_name = rule_id_of(rule), rule["rule_name"]
    templates = []
    for emission in ordered_emissions(rule):
        params = merged_params(emission, subtask_types)
        nested = tuple(k for k, v in params.items() if isinstance(v, dict | list))
        templates.append(
            SubtaskTemplate(
                name=emission_name(emission),
                type=emission["subtask_type"],
                params=params,
                nested=nested,
                rule_id=rule_id,
                rule_name=rule_name,
            )
        )
    return tuple(templates)


def rule_edges(rule: Rule) -> tuple[dict[str, Any], ...]:
    """The rule's own edges, in emission order, deduplicated, without self-edges."""
    emissions = ordered_emissions(rule)
    names = [emission_name(e) for e in emissions]
    gate_source = (rule.get("metadata") or {}).get("gate_source")
    edges: list[dict[str, Any]] = []
    for i, emission in enumerate(emissions):
        relationship = emission.get("relationship_type") or "EMITS"
        if relationship == "ORDERS" and i > 0:
            edges.append(_edge(names[i - 1], names[i], "sequential", rule))
        elif relationship == "GATE" and gate_source in names:
            edges.append(_edge(gate_source, names[i], "gate", rule))
    return tuple(dedupe_edges([e for e in edges if e["from"] != e["to"]]))


def _edge(source: Any, target: str, kind: str, rule: Rule) -> dict[str, Any]:
    return {"from": source, "to": target, "type": kind, "rule": rule["rule_name"]}


def edge_key(edge: Mapping[str, Any]) -> EdgeKey:
    return (edge["from"], edge["to"], edge["type"], edge["rule"])


def dedupe_edges(edges: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[EdgeKey] = set()
    out = []
    for edge in edges:
        key = edge_key(edge)
        if key not in seen:
            seen.add(key)
            out.append(edge)
    return out


def provenance_of(rule: Rule) -> dict[str, Any]:
    return {
        "rule_id": rule_id_of(rule),
        "rule_name": rule["rule_name"],
        "rule_priority": rule.get("priority", DEFAULT_PRIORITY),
        "weight": WEIGHT,
        "matched_conditions": len(rule.get("conditions") or []),
        "emissions_count": len(rule.get("emissions") or []),
    }


def compile_output(rule: Rule, subtask_types: SubtaskTypes) -> RuleOutput:
    subtasks = subtask_templates(rule, subtask_types)
    return RuleOutput(
        subtasks=subtasks,
        edges=rule_edges(rule),
        provenance=provenance_of(rule),
        flat=not any(t.nested for t in subtasks),
        templates=tuple({**t.stamp(), "params": t.params} for t in subtasks),
    )


def assemble(
    outputs: Iterable[RuleOutput], *, dedupe_across: bool = True, fresh: bool = True
) -> dict[str, Any]:
    """`{"subtasks", "dag", "rules"}` for rules that fired, in firing order; all fresh dicts.

    `dedupe_across=False` is for snapshots whose rule names are unique: an edge carries its
    rule's name and each rule's own edges are already deduplicated, so no two rules repeat one.
    `fresh=False`: the three lists are new, the dicts in them are the snapshot's own, to be
    read and never changed (a decision on its way to JSON needs no copies).
    """
    if not fresh:
        return _assemble_shared(outputs, dedupe_across=dedupe_across)
    subtasks: list[dict[str, Any]] = []
    dag: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for output in outputs:
        if output.flat:  # the common case, and the hot path: two C-level copies per subtask
            for template in output.templates:
                subtask = template.copy()
                subtask["params"] = template["params"].copy()
                subtasks.append(subtask)
        else:
            subtasks.extend([t.stamp() for t in output.subtasks])
        if output.edges:
            dag.extend([edge.copy() for edge in output.edges])
        rules.append(output.provenance.copy())
    if dedupe_across and dag:
        dag = dedupe_edges(dag)
    return {"subtasks": subtasks, "dag": dag, "rules": rules}


def _assemble_shared(outputs: Iterable[RuleOutput], *, dedupe_across: bool) -> dict[str, Any]:
    subtasks: list[dict[str, Any]] = []
    dag: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for output in outputs:
        subtasks += output.templates
        if output.edges:
            dag += output.edges
        rules.append(output.provenance)
    if dedupe_across and dag:
        dag = dedupe_edges(dag)
    return {"subtasks": subtasks, "dag": dag, "rules": rules}
