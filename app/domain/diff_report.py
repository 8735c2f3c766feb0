"""A snapshot diff (app/domain/diff.py) as a reviewer reads it: markdown for a pull-request
comment, or plain text lines (`+ rule x`, `- rule y`, `~ rule z`) for a terminal."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

FORMATS: Final = ("json", "markdown", "text")
WORDS: Final = ("added ", "removed ")
SIGNS: Final = ("+ ", "- ")
Diff = Mapping[str, Any]


def render(diff: Diff, fmt: str) -> str:
    if fmt == "markdown":
        return markdown(diff)
    if fmt == "text":
        return text(diff)
    return json.dumps(diff, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def headline(diff: Diff) -> str:
    """`2 rules added, 1 removed, 3 changed; 1 subtask type added; 2 fixtures added`."""
    if diff["identical"]:
        return "no changes"
    parts = [
        _counts(diff["rules"], "rule", "rules"),
        _counts(diff["subtask_types"], "subtask type", "subtask types"),
        _counts(diff["fixtures"], "fixture", "fixtures"),
    ]
    if diff.get("engine"):
        parts.insert(0, f"engine {diff['engine']['from']} → {diff['engine']['to']}")
    wasm = diff.get("wasm")
    if wasm and wasm["changed"]:
        parts.append("wasm module changed" if wasm["module_checksum"] else "wasm changed")
    return "; ".join(part for part in parts if part) or "checksum changed"


def _counts(section: Mapping[str, Any], one: str, many: str) -> str:
    """`2 rules added, 1 removed`: the noun after the first count only."""
    keys = [key for key in ("added", "removed", "changed") if section[key]]
    if not keys:
        return ""
    first = len(section[keys[0]])
    head = f"{first} {one if first == 1 else many} {keys[0]}"
    return ", ".join([head, *(f"{len(section[key])} {key}" for key in keys[1:])])


def _shown(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


# ------------------------------------------------------------------------------ markdown
def code(value: str) -> str:
    """`value` as a markdown code span, whatever backticks it holds."""
    fence = "`"
    while fence in value:
        fence += "`"
    padded = f" {value} " if value.startswith("`") or value.endswith("`") else value
    return f"{fence}{padded}{fence}"


def markdown(diff: Diff) -> str:
    lines = [f"### Policy diff: {code(diff['from'])} → {code(diff['to'])}", ""]
    lines += [f"**{headline(diff)}**", ""]
    if diff["identical"]:
        return "\n".join(lines)
    for title, render_section in _MARKDOWN_SECTIONS:
        body = render_section(diff)
        if body:
            lines += [f"#### {title}", "", *body, ""]
    return "\n".join(lines)


def _md_rules_added(diff: Diff) -> list[str]:
    return [line for rule in diff["rules"]["added"] for line in _md_rule(rule)]


def _md_rule(rule: Mapping[str, Any]) -> list[str]:
    flags = f"priority {rule['priority']}" + (", disabled" if rule["disabled"] else "")
    lines = [f"- **{code(rule['rule_name'])}** ({flags})"]
    when = ", ".join(code(c) for c in rule["conditions"]) or "always"
    lines.append(f"  - when: {when}")
    if rule["emissions"]:
        lines.append("  - emits: " + ", ".join(code(e) for e in rule["emissions"]))
    return lines


def _md_rules_removed(diff: Diff) -> list[str]:
    return [
        f"- {code(rule['rule_name'])} (priority {rule['priority']})"
        for rule in diff["rules"]["removed"]
    ]


def _md_rules_changed(diff: Diff) -> list[str]:
    lines = []
    for rule in diff["rules"]["changed"]:
        lines.append(f"- **{code(rule['rule_name'])}**")
        lines += [f"  - {line}" for line in _rule_changes(rule, code, WORDS)]
    return lines


def _rule_changes(
    rule: Mapping[str, Any], quote: Callable[[str], str], marks: tuple[str, str]
) -> list[str]:
    """One line per change; `marks` start an added and a removed line (`+ `/`- `, or words
    in markdown, where a leading `+` would open a nested list)."""
    lines = []
    for key in ("priority", "disabled", "metadata"):
        if rule[key] is not None:
            lines.append(
                f"{key}: {quote(_shown(rule[key]['from']))} → {quote(_shown(rule[key]['to']))}"
            )
    for key in ("conditions", "emissions"):
        part = rule[key]
        if part is None:
            continue
        singular = key[:-1]
        lines += [f"{marks[0]}{singular} {quote(line)}" for line in part["added"]]
        lines += [f"{marks[1]}{singular} {quote(line)}" for line in part["removed"]]
        if part["reordered"]:
            lines.append(f"{key} reordered")
    return lines


def _md_subtask_types(diff: Diff) -> list[str]:
    section = diff["subtask_types"]
    lines = [
        f"- added {code(t['name'])} (defaults {code(_shown(t['default_params']))})"
        for t in section["added"]
    ]
    lines += [f"- removed {code(t['name'])}" for t in section["removed"]]
    lines += [
        f"- changed {code(t['name'])}: defaults {code(_shown(t['default_params']['from']))}"
        f" → {code(_shown(t['default_params']['to']))}"
        for t in section["changed"]
    ]
    return lines


def _md_fixtures(diff: Diff) -> list[str]:
    section = diff["fixtures"]
    lines = [f"- added {code(name)}" for name in section["added"]]
    lines += [f"- removed {code(name)}" for name in section["removed"]]
    lines += [f"- changed {code(f['name'])} ({_fixture_parts(f)})" for f in section["changed"]]
    return lines


def _fixture_parts(fixture: Mapping[str, Any]) -> str:
    return ", ".join(key for key in ("input", "expect") if fixture[key] is not None)


def _md_wasm(diff: Diff) -> list[str]:
    wasm = diff.get("wasm")
    if not wasm or not wasm["changed"]:
        return []
    return [f"- {line}" for line in _wasm_lines(wasm, code, WORDS)]


def _wasm_lines(
    wasm: Mapping[str, Any], quote: Callable[[str], str], marks: tuple[str, str]
) -> list[str]:
    lines = []
    labels = {
        "module_checksum": "module sha256",
        "entrypoint": "default entrypoint",
        "revision": "revision",
        "strict_builtin_errors": "strict builtin errors",
    }
    for key, label in labels.items():
        if wasm[key] is not None:
            lines.append(
                f"{label}: {quote(str(wasm[key]['from']))} → {quote(str(wasm[key]['to']))}"
            )
    lines += [f"{marks[0]}entrypoint {quote(e)}" for e in wasm["entrypoints"]["added"]]
    lines += [f"{marks[1]}entrypoint {quote(e)}" for e in wasm["entrypoints"]["removed"]]
    lines += [f"data {_data_change(c, quote)}" for c in wasm["data"]]
    if wasm["data_truncated"]:
        lines.append("data: more changes left out")
    return lines


def _data_change(entry: Mapping[str, Any], quote: Callable[[str], str]) -> str:
    path = quote(entry["path"] or "/")
    if entry["op"] == "add":
        return f"added {path} = {quote(_shown(entry['value']))}"
    if entry["op"] == "remove":
        return f"removed {path} (was {quote(_shown(entry['from']))})"
    return f"changed {path}: {quote(_shown(entry['from']))} → {quote(_shown(entry['value']))}"


_MARKDOWN_SECTIONS: Final = (
    ("Rules added", _md_rules_added),
    ("Rules removed", _md_rules_removed),
    ("Rules changed", _md_rules_changed),
    ("Subtask types", _md_subtask_types),
    ("Fixtures", _md_fixtures),
    ("WebAssembly", _md_wasm),
)


# ------------------------------------------------------------------------------ text
def _plain(value: str) -> str:
    return value


def text(diff: Diff) -> str:
    lines = [f"{diff['from']} → {diff['to']}"]
    if diff.get("engine"):
        lines.append(f"~ engine {diff['engine']['from']} → {diff['engine']['to']}")
    for rule in diff["rules"]["added"]:
        lines.append(f"+ rule {rule['rule_name']} (priority {rule['priority']})")
        lines += [f"    when {c}" for c in rule["conditions"]]
        lines += [f"    emits {e}" for e in rule["emissions"]]
    lines += [f"- rule {rule['rule_name']}" for rule in diff["rules"]["removed"]]
    for rule in diff["rules"]["changed"]:
        lines.append(f"~ rule {rule['rule_name']}")
        lines += [f"    {line}" for line in _rule_changes(rule, _plain, SIGNS)]
    types = diff["subtask_types"]
    lines += [f"+ subtask type {t['name']} {_shown(t['default_params'])}" for t in types["added"]]
    lines += [f"- subtask type {t['name']}" for t in types["removed"]]
    lines += [
        f"~ subtask type {t['name']} {_shown(t['default_params']['from'])}"
        f" → {_shown(t['default_params']['to'])}"
        for t in types["changed"]
    ]
    fixtures = diff["fixtures"]
    lines += [f"+ fixture {name!r}" for name in fixtures["added"]]
    lines += [f"- fixture {name!r}" for name in fixtures["removed"]]
    lines += [f"~ fixture {f['name']!r}: {_fixture_parts(f)}" for f in fixtures["changed"]]
    wasm = diff.get("wasm")
    if wasm and wasm["changed"]:
        lines += [f"~ wasm {line}" for line in _wasm_lines(wasm, _plain, SIGNS)]
    lines.append(headline(diff))
    return "\n".join(lines) + "\n"
