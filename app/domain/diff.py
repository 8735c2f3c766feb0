"""A static diff of two snapshots, for a reviewer: nothing is evaluated (docs/lifecycle.md,
"Diff"). Rules, subtask types and fixtures are matched by name; a rule's conditions and
emissions are compared as readable lines (`SIGNAL urgency >= 0.7`, `ORDERS notify (notify_manager)
{"channel": "pager"}`), as multisets plus whether their order changed (the order of emissions
makes the DAG's `sequential` edges). A wasm policy's module is compared by checksum,
entrypoints and revision, and its data document as a list of JSON changes at JSON Pointers.

`snapshot_diff(...)` returns a JSON-ready dict; app/domain/diff_report.py renders it as
markdown or text.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from app.domain.coverage import condition_text
from app.domain.document import Fixture
from app.domain.snapshot import Emission, PKGSnapshotData, Rule

MAX_DATA_CHANGES: Final = 200
MISSING: Final[Any] = object()


def emission_text(emission: Mapping[str, Any]) -> str:
    """`ORDERS notify_duty_manager (notify_manager) {"channel": "pager"}`."""
    text = f"{emission['relationship_type']} {emission['name']}"
    if emission["name"] != emission["subtask_type"]:
        text += f" ({emission['subtask_type']})"
    if emission.get("params"):
        text += " " + _json(emission["params"])
    return text


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def change(before: Any, after: Any) -> dict[str, Any] | None:
    return None if before == after else {"from": before, "to": after}


# ------------------------------------------------------------------------------ the diff
def snapshot_diff(
    a: PKGSnapshotData,
    b: PKGSnapshotData,
    *,
    fixtures_a: Sequence[Fixture] = (),
    fixtures_b: Sequence[Fixture] = (),
) -> dict[str, Any]:
    """How B differs from A: `{from, to, identical, engine, checksum, rules, subtask_types,
    fixtures, wasm}`; `identical` when nothing a reviewer would read differs."""
    rules = rules_diff(a.rules, b.rules)
    types = subtask_types_diff(a.subtask_types, b.subtask_types)
    fixtures = fixtures_diff(fixtures_a, fixtures_b)
    wasm = wasm_diff(a, b) if "wasm" in (a.engine, b.engine) else None
    parts = [rules, types, fixtures]
    identical = (
        a.engine == b.engine
        and a.checksum == b.checksum
        and not any(part["added"] or part["removed"] or part["changed"] for part in parts)
        and not (wasm and wasm["changed"])
    )
    return {
        "from": a.version,
        "to": b.version,
        "identical": identical,
        "engine": change(a.engine, b.engine),
        "checksum": change(a.checksum, b.checksum),
        "rules": rules,
        "subtask_types": types,
        "fixtures": fixtures,
        "wasm": wasm,
    }


def rules_diff(before: Sequence[Rule], after: Sequence[Rule]) -> dict[str, Any]:
    old = {rule["rule_name"]: rule for rule in before}
    new = {rule["rule_name"]: rule for rule in after}
    changed = [
        entry
        for name in new
        if name in old and (entry := rule_change(old[name], new[name])) is not None
    ]
    return {
        "added": [rule_summary(new[name]) for name in new if name not in old],
        "removed": [rule_summary(old[name]) for name in old if name not in new],
        "changed": changed,
        "unchanged": sum(1 for name in new if name in old) - len(changed),
    }


def rule_summary(rule: Rule) -> dict[str, Any]:
    return {
        "rule_name": rule["rule_name"],
        "priority": rule["priority"],
        "disabled": rule["disabled"],
        "conditions": [condition_text(c) for c in rule["conditions"]],
        "emissions": [emission_text(e) for e in rule["emissions"]],
    }


def rule_change(a: Rule, b: Rule) -> dict[str, Any] | None:
    """What changed in one rule, or None when it means the same."""
    entry: dict[str, Any] = {
        "rule_name": b["rule_name"],
        "priority": change(a["priority"], b["priority"]),
        "disabled": change(a["disabled"], b["disabled"]),
        "metadata": change(a["metadata"], b["metadata"]),
        "conditions": lines_diff(
            [condition_text(c) for c in a["conditions"]],
            [condition_text(c) for c in b["conditions"]],
        ),
        "emissions": lines_diff(_emissions(a["emissions"]), _emissions(b["emissions"])),
    }
    if all(entry[key] is None for key in entry if key != "rule_name"):
        return None
    return entry


def _emissions(emissions: Sequence[Emission]) -> list[str]:
    return [emission_text(e) for e in emissions]


def lines_diff(before: Sequence[str], after: Sequence[str]) -> dict[str, Any] | None:
    """`{added, removed, reordered}` of two lists of lines, or None when they are equal."""
    if list(before) == list(after):
        return None
    old, new = Counter(before), Counter(after)
    return {
        "added": [line for line in _in_order(after, new - old)],
        "removed": [line for line in _in_order(before, old - new)],
        "reordered": old == new,
    }


def _in_order(lines: Sequence[str], wanted: Counter[str]) -> list[str]:
    left = Counter(wanted)
    picked = []
    for line in lines:
        if left[line] > 0:
            left[line] -= 1
            picked.append(line)
    return picked


def subtask_types_diff(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    def params(spec: Mapping[str, Any]) -> dict[str, Any]:
        return dict(spec.get("default_params") or {})

    return {
        "added": [
            {"name": n, "default_params": params(s)} for n, s in after.items() if n not in before
        ],
        "removed": [
            {"name": n, "default_params": params(s)} for n, s in before.items() if n not in after
        ],
        "changed": [
            {"name": name, "default_params": change(params(before[name]), params(spec))}
            for name, spec in after.items()
            if name in before and params(before[name]) != params(spec)
        ],
    }


def fixtures_diff(before: Sequence[Fixture], after: Sequence[Fixture]) -> dict[str, Any]:
    old = {f.name: f for f in before}
    new = {f.name: f for f in after}
    changed = []
    for name, fixture in new.items():
        previous = old.get(name)
        if previous is None:
            continue
        entry = {
            "name": name,
            "input": change(previous.input, fixture.input),
            "expect": change(previous.expect, fixture.expect),
        }
        if entry["input"] is not None or entry["expect"] is not None:
            changed.append(entry)
    return {
        "added": [name for name in new if name not in old],
        "removed": [name for name in old if name not in new],
        "changed": changed,
    }


# ------------------------------------------------------------------------------ wasm
def wasm_diff(a: PKGSnapshotData, b: PKGSnapshotData) -> dict[str, Any]:
    """Module checksum, default entrypoint, entrypoints, revision and a data document diff."""
    entrypoints_a, entrypoints_b = list(a.entrypoints), list(b.entrypoints)
    data, truncated = data_diff(_data(a), _data(b))
    entry: dict[str, Any] = {
        "module_checksum": change(_module_checksum(a), _module_checksum(b)),
        "entrypoint": change(a.entrypoint, b.entrypoint),
        "entrypoints": {
            "added": [e for e in entrypoints_b if e not in entrypoints_a],
            "removed": [e for e in entrypoints_a if e not in entrypoints_b],
        },
        "revision": change(a.revision, b.revision),
        "strict_builtin_errors": change(a.strict_builtin_errors, b.strict_builtin_errors),
        "data": data,
        "data_truncated": truncated,
    }
    entry["changed"] = bool(
        any(entry[k] is not None for k in ("module_checksum", "entrypoint", "revision"))
        or entry["strict_builtin_errors"] is not None
        or entry["entrypoints"]["added"]
        or entry["entrypoints"]["removed"]
        or data
    )
    return entry


def _module_checksum(snapshot: PKGSnapshotData) -> str | None:
    if snapshot.wasm_artifact is None:
        return None
    return hashlib.sha256(snapshot.wasm_artifact).hexdigest()


def _data(snapshot: PKGSnapshotData) -> Any:
    if not snapshot.wasm_data:
        return {}
    try:
        return json.loads(snapshot.wasm_data)
    except ValueError:
        return {"<undecodable>": snapshot.wasm_data.hex()[:64]}


def data_diff(
    before: Any, after: Any, *, limit: int = MAX_DATA_CHANGES
) -> tuple[list[dict[str, Any]], bool]:
    """JSON changes from `before` to `after` (`{op: add|remove|replace, path, from?, value?}`,
    `path` a JSON Pointer), at most `limit` of them, and whether some were left out."""
    changes: list[dict[str, Any]] = []
    _walk(before, after, "", changes)
    return changes[:limit], len(changes) > limit


def _walk(before: Any, after: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            child = f"{path}/{_pointer(str(key))}"
            _walk(before.get(key, MISSING), after.get(key, MISSING), child, out)
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (x, y) in enumerate(zip(before, after, strict=True)):
            _walk(x, y, f"{path}/{index}", out)
        return
    if before is MISSING:
        out.append({"op": "add", "path": path, "value": after})
    elif after is MISSING:
        out.append({"op": "remove", "path": path, "from": before})
    elif not _same(before, after):
        out.append({"op": "replace", "path": path or "/", "from": before, "value": after})


def _same(a: Any, b: Any) -> bool:
    """JSON equality of two leaves: 1 == 1.0, but `true` is not 1."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
