"""Two snapshots, rule by rule: which rules were added, removed or changed, and in what.

Rules are compared in their policy-document form (what people wrote: decoded values, the
relationship named), matched by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from app.domain.document import document_from_snapshot
from app.domain.snapshot import PKGSnapshotData

RULE_FIELDS: Final = ("priority", "disabled", "conditions", "emissions", "metadata")


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class RuleChange:
    name: str
    status: str  # added | removed | changed | same
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class SnapshotDiff:
    a: str
    b: str
    rules: list[RuleChange]
    settings: list[FieldChange]  # engine, subtask types, notes, checksum

    def count(self, status: str) -> int:
        return sum(1 for rule in self.rules if rule.status == status)

    @property
    def changed(self) -> bool:
        return any(rule.status != "same" for rule in self.rules) or bool(self.settings)


def _rule_fields(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "priority": rule.get("priority", 100),
        "disabled": bool(rule.get("disabled", False)),
        "conditions": rule.get("conditions") or [],
        "emissions": rule.get("emissions") or [],
        "metadata": rule.get("metadata") or {},
    }


def diff_rules(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[RuleChange]:
    """Rules of `after` in its order (added and changed ones where they stand), then the rules
    only `before` had."""
    old = {rule["name"]: rule for rule in before}
    new_names = {rule["name"] for rule in after}
    changes = []
    for rule in after:
        previous = old.get(rule["name"])
        if previous is None:
            changes.append(RuleChange(rule["name"], "added", None, rule))
            continue
        a, b = _rule_fields(previous), _rule_fields(rule)
        fields = [FieldChange(name, a[name], b[name]) for name in RULE_FIELDS if a[name] != b[name]]
        changes.append(
            RuleChange(rule["name"], "changed" if fields else "same", previous, rule, fields)
        )
    changes += [
        RuleChange(rule["name"], "removed", rule, None)
        for rule in before
        if rule["name"] not in new_names
    ]
    return changes


def diff_snapshots(a: PKGSnapshotData, b: PKGSnapshotData) -> SnapshotDiff:
    doc_a, doc_b = document_from_snapshot(a), document_from_snapshot(b)
    settings = [
        FieldChange(name, doc_a.get(name), doc_b.get(name))
        for name in ("env", "engine", "subtask_types", "notes")
        if doc_a.get(name) != doc_b.get(name)
    ]
    if a.engine == "wasm" and a.checksum != b.checksum:
        settings.append(FieldChange("checksum", a.checksum, b.checksum))
    return SnapshotDiff(a.version, b.version, diff_rules(doc_a["rules"], doc_b["rules"]), settings)
