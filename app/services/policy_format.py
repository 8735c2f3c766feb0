"""The canonical text of a policy document (`pkgctl fmt`, like `opa fmt`).

Keys come in a fixed order (a document's `version, env, engine, ...`, a rule's `name, priority,
..., conditions, emissions`, a condition's `type, key, op, value`); free-form objects (`params`,
`metadata`, fixture `input`/`expect`) are sorted. Lists keep their order, which carries meaning
(document order breaks priority ties, conditions and emissions are positional). Conditions,
emissions and other objects of scalars are written on one line. Comments are not kept.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

DOCUMENT_ORDER = (
    "version", "env", "engine", "notes", "wasm", "subtask_types", "rules", "fixtures",
)  # fmt: skip
RULE_ORDER = (
    "name", "description", "priority", "disabled", "metadata", "conditions", "emissions",
)  # fmt: skip
CONDITION_ORDER = ("type", "key", "op", "value")
EMISSION_ORDER = ("subtask_type", "name", "relationship", "params")
FIXTURE_ORDER = ("name", "input", "expect")
WASM_ORDER = ("file", "artifact", "entrypoint")


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = [key for key in order if key in mapping]
    rest = sorted(key for key in mapping if key not in order)
    return {key: mapping[key] for key in known + rest}


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _list_of(value: Any, order: tuple[str, ...]) -> Any:
    if not isinstance(value, list):
        return value
    return [_ordered(_sorted(item), order) if isinstance(item, dict) else item for item in value]


def _rule(rule: Any) -> Any:
    if not isinstance(rule, dict):
        return rule
    rule = _ordered(rule, RULE_ORDER)
    out = {key: _sorted(value) for key, value in rule.items()}
    out["conditions"] = _list_of(rule.get("conditions"), CONDITION_ORDER)
    out["emissions"] = _list_of(rule.get("emissions"), EMISSION_ORDER)
    return {key: value for key, value in out.items() if key in rule}


def canonical_document(raw: dict[str, Any]) -> dict[str, Any]:
    """The same document with its keys in canonical order (values unchanged)."""
    document = {key: _sorted(value) for key, value in _ordered(raw, DOCUMENT_ORDER).items()}
    if isinstance(raw.get("rules"), list):
        document["rules"] = [_rule(rule) for rule in raw["rules"]]
    if "fixtures" in raw:
        document["fixtures"] = _list_of(raw["fixtures"], FIXTURE_ORDER)
    if isinstance(raw.get("wasm"), dict):
        document["wasm"] = _ordered(raw["wasm"], WASM_ORDER)
    return document


class _Dumper(yaml.SafeDumper):
    """Block style for structure, one line for objects and lists that hold only scalars."""


def _is_leaf(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(item, dict | list) or _is_leaf(item) for item in items) and (
        len(json.dumps(value, default=str)) <= 90
    )


def _represent_dict(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping(
        "tag:yaml.org,2002:map", value.items(), flow_style=bool(value) and _is_leaf(value)
    )


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    return dumper.represent_sequence(
        "tag:yaml.org,2002:seq", value, flow_style=not value or _is_leaf(value)
    )


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def format_policy(raw: dict[str, Any], *, as_json: bool) -> str:
    """Canonical text: YAML (the default), or JSON with two-space indents."""
    document = canonical_document(raw)
    if as_json:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    text: str = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text
