"""Policy documents (what users write, YAML or JSON) → validated `PolicyDocument` → snapshot.

A document is checked completely before anything is stored (DESIGN.md §2): every problem is
collected with a `loc` naming the rule, condition and field (`rules[vip].conditions[1].op`), so
one round trip tells an author everything that is wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import rfc8785

from app.domain.conditions import compile_pattern
from app.domain.errors import DocumentError, FieldError
from app.domain.snapshot import (
    CHECKSUM_SCHEME,
    CONDITION_TYPES,
    DEFAULT_ENTRYPOINT,
    DEFAULT_PRIORITY,
    ENGINES,
    OPERATORS,
    RELATIONSHIPS,
    PKGSnapshotData,
    Rule,
    decode_value,
    encode_value,
    native_checksum,
)

ENVIRONMENTS: Final = ("prod", "staging", "dev")
RULE_ID_NAMESPACE: Final = uuid.UUID("6f1c3a2e-4b7d-5e8f-9a0b-1c2d3e4f5a6b")
ORDERING: Final = (">=", "<=", ">", "<")
MAX_VERSION_LENGTH: Final = 200
PRIORITY_RANGE: Final = (-(2**31), 2**31 - 1)  # stored as a 32-bit INTEGER
DOCUMENT_KEYS: Final = frozenset(
    {"version", "env", "engine", "subtask_types", "rules", "fixtures", "wasm", "notes"}
)
RULE_KEYS: Final = frozenset(
    {"name", "priority", "disabled", "metadata", "conditions", "emissions", "description"}
)
CONDITION_KEYS: Final = frozenset({"type", "key", "op", "value"})
EMISSION_KEYS: Final = frozenset({"subtask_type", "name", "relationship", "params"})
FIXTURE_KEYS: Final = frozenset({"name", "input", "expect"})


def rule_id_for(version: str, rule_name: str) -> str:
    """Deterministic rule id, so a document and its stored snapshot agree on ids."""
    return str(uuid.uuid5(RULE_ID_NAMESPACE, f"{version}\x00{rule_name}"))


@dataclass(frozen=True)
class Fixture:
    """A validation case: facts in, a partial expected result out (DESIGN.md §6)."""

    name: str
    input: dict[str, Any]
    expect: dict[str, Any]


@dataclass(frozen=True)
class PolicyDocument:
    version: str
    env: str
    engine: str
    rules: list[Rule]
    subtask_types: dict[str, dict[str, Any]]
    fixtures: list[Fixture] = field(default_factory=list)
    wasm_artifact: bytes | None = None
    entrypoint: str | None = None
    notes: str | None = None
    checksum_scheme: int = CHECKSUM_SCHEME  # an imported bundle keeps the scheme it was signed in

    @property
    def checksum(self) -> str:
        if self.engine == "wasm":
            return hashlib.sha256(self.wasm_artifact or b"").hexdigest()
        return native_checksum(self.rules, self.subtask_types, scheme=self.checksum_scheme)

    def to_snapshot(self, *, snapshot_id: int = 0) -> PKGSnapshotData:
        return PKGSnapshotData(
            id=snapshot_id,
            version=self.version,
            engine=self.engine,
            wasm_artifact=self.wasm_artifact,
            checksum=self.checksum,
            rules=self.rules,
            env=self.env,
            entrypoint=self.entrypoint,
            subtask_types=self.subtask_types,
            notes=self.notes,
            checksum_scheme=self.checksum_scheme,
        )


def parse_policy_document(raw: Any) -> PolicyDocument:
    """Validate the whole document; raise `DocumentError` listing every problem found."""
    checker = _Checker()
    document = checker.document(raw)
    if checker.errors or document is None:
        raise DocumentError(checker.errors or [FieldError("document", "invalid document")])
    try:
        document.checksum  # noqa: B018  # RFC 8785 refuses what I-JSON cannot hold: say so now
    except rfc8785.CanonicalizationError as exc:
        raise DocumentError(
            [FieldError("document", f"not canonical JSON (RFC 8785): {exc}")]
        ) from exc
    return document


def document_from_snapshot(
    snapshot: PKGSnapshotData, fixtures: list[Fixture] | None = None
) -> dict[str, Any]:
    """The policy document a snapshot was made from (what `GET /snapshots/{v}` shows)."""
    body: dict[str, Any] = {
        "version": snapshot.version,
        "env": snapshot.env,
        "engine": snapshot.engine,
        "subtask_types": {
            name: {"default_params": dict(spec.get("default_params") or {})}
            for name, spec in snapshot.subtask_types.items()
        },
        "rules": [_rule_to_document(rule) for rule in snapshot.rules],
    }
    if snapshot.engine == "wasm":
        artifact = base64.b64encode(snapshot.wasm_artifact or b"").decode("ascii")
        body["wasm"] = {"artifact": artifact, "entrypoint": snapshot.entrypoint}
    if snapshot.notes:
        body["notes"] = snapshot.notes
    body["fixtures"] = [
        {"name": f.name, "input": f.input, "expect": f.expect} for f in fixtures or []
    ]
    return body


def _rule_to_document(rule: Rule) -> dict[str, Any]:
    conditions = sorted(rule.get("conditions") or [], key=lambda c: c.get("position", 0))
    emissions = sorted(rule.get("emissions") or [], key=lambda e: e.get("position", 0))
    body: dict[str, Any] = {
        "name": rule["rule_name"],
        "priority": rule.get("priority", DEFAULT_PRIORITY),
        "conditions": [_condition_to_document(c) for c in conditions],
        "emissions": [
            {
                "subtask_type": e["subtask_type"],
                "name": e.get("name") or e["subtask_type"],
                "relationship": e.get("relationship_type", "EMITS"),
                "params": e.get("params") or {},
            }
            for e in emissions
        ],
    }
    if rule.get("disabled"):
        body["disabled"] = True
    if rule.get("metadata"):
        body["metadata"] = rule["metadata"]
    return body


def _condition_to_document(condition: Mapping[str, Any]) -> dict[str, Any]:
    body = {
        "type": condition["condition_type"],
        "key": condition.get("condition_key"),
        "op": condition["operator"],
    }
    if condition.get("value") is not None:
        body["value"] = decode_value(condition["value"])
    return body


class _Checker:
    """Walks a raw document once, collecting every problem and building the typed result."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def error(self, loc: str, msg: str) -> None:
        self.errors.append(FieldError(loc, msg))

    # ------------------------------------------------------------------ document
    def document(self, raw: Any) -> PolicyDocument | None:
        if not isinstance(raw, Mapping):
            self.error("document", "a policy document must be an object")
            return None
        self.unknown_keys(raw, DOCUMENT_KEYS, "")
        version = self.version(raw.get("version"))
        env = self.choice(raw.get("env", "prod"), ENVIRONMENTS, "env")
        engine = self.choice(raw.get("engine", "native"), ENGINES, "engine")
        subtask_types = self.subtask_types(raw.get("subtask_types"))
        rules = self.rules(raw.get("rules"), version or "", subtask_types, engine)
        fixtures = self.fixtures(raw.get("fixtures"))
        artifact, entrypoint = self.wasm(raw.get("wasm"), engine)
        notes = raw.get("notes")
        if notes is not None and not isinstance(notes, str):
            self.error("notes", "must be a string")
        if self.errors or version is None or env is None or engine is None:
            return None
        return PolicyDocument(
            version=version,
            env=env,
            engine=engine,
            rules=rules,
            subtask_types=subtask_types,
            fixtures=fixtures,
            wasm_artifact=artifact,
            entrypoint=entrypoint,
            notes=notes,
        )

    def unknown_keys(self, raw: Mapping[str, Any], allowed: frozenset[str], loc: str) -> None:
        for key in raw:
            if key not in allowed:
                where = f"{loc}.{key}" if loc else str(key)
                self.error(where, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def version(self, value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.error("version", "required: a non-empty string such as rules@1.4.0")
            return None
        if len(value) > MAX_VERSION_LENGTH or value != value.strip() or "/" in value:
            self.error("version", "at most 200 characters, no surrounding spaces, no '/'")
            return None
        return value

    def choice(self, value: Any, allowed: tuple[str, ...], loc: str) -> str | None:
        if value not in allowed:
            self.error(loc, f"must be one of {', '.join(allowed)}; got {value!r}")
            return None
        return str(value)

    # ------------------------------------------------------------------ subtask types
    def subtask_types(self, raw: Any) -> dict[str, dict[str, Any]]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.error("subtask_types", "must be an object: name -> {default_params: {...}}")
            return {}
        types: dict[str, dict[str, Any]] = {}
        for name, spec in raw.items():
            loc = f"subtask_types.{name}"
            spec = {} if spec is None else spec
            if not isinstance(spec, Mapping):
                self.error(loc, "must be an object with default_params")
                continue
            self.unknown_keys(spec, frozenset({"default_params"}), loc)
            defaults = spec.get("default_params") or {}
            if not isinstance(defaults, Mapping):
                self.error(f"{loc}.default_params", "must be an object")
                continue
            types[str(name)] = {"default_params": dict(defaults)}
        return types

    # ------------------------------------------------------------------ rules
    def rules(
        self, raw: Any, version: str, types: dict[str, dict[str, Any]], engine: str | None
    ) -> list[Rule]:
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            self.error("rules", "must be a list of rules")
            return []
        if engine == "wasm" and raw:
            self.error("rules", "a wasm policy carries no native rules")
            return []
        seen: set[str] = set()
        rules: list[Rule] = []
        for index, item in enumerate(raw):
            rule = self.rule(item, index, version, types, seen)
            if rule is not None:
                rules.append(rule)
        return rules

    def rule(
        self, raw: Any, index: int, version: str, types: dict[str, Any], seen: set[str]
    ) -> Rule | None:
        loc = f"rules[{index}]"
        if not isinstance(raw, Mapping):
            self.error(loc, "a rule must be an object")
            return None
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.error(f"{loc}.name", "required: a non-empty string")
            return None
        first_error = len(self.errors)
        if name in seen:
            self.error(f"{loc}.name", "duplicate rule name")
        seen.add(name)
        self.unknown_keys(raw, RULE_KEYS, loc)
        priority = raw.get("priority", DEFAULT_PRIORITY)
        if isinstance(priority, bool) or not isinstance(priority, int):
            self.error(f"{loc}.priority", "must be an integer")
        elif not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]:
            self.error(
                f"{loc}.priority", f"must be between {PRIORITY_RANGE[0]} and {PRIORITY_RANGE[1]}"
            )
        disabled = raw.get("disabled", False)
        if not isinstance(disabled, bool):
            self.error(f"{loc}.disabled", "must be true or false")
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            self.error(f"{loc}.metadata", "must be an object")
            metadata = {}
        conditions = self.conditions(raw.get("conditions"), loc)
        emissions = self.emissions(raw.get("emissions"), loc, types, metadata)
        self.name_rule(first_error, name)
        return {
            "id": rule_id_for(version, name),
            "rule_name": name,
            "priority": priority,
            "disabled": disabled,
            "metadata": dict(metadata),
            "conditions": conditions,
            "emissions": emissions,
        }

    def name_rule(self, first_error: int, name: str) -> None:
        """Locations index the rule (`rules[3]`); messages name it, so both lead to it."""
        for index in range(first_error, len(self.errors)):
            problem = self.errors[index]
            self.errors[index] = FieldError(problem.loc, f"rule {name!r}: {problem.msg}")

    # ------------------------------------------------------------------ conditions
    def conditions(self, raw: Any, rule_loc: str) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.error(f"{rule_loc}.conditions", "must be a list")
            return []
        built = []
        for position, item in enumerate(raw):
            condition = self.condition(item, f"{rule_loc}.conditions[{position}]")
            if condition is not None:
                built.append({**condition, "position": position})
        return built

    def condition(self, raw: Any, loc: str) -> dict[str, Any] | None:
        if not isinstance(raw, Mapping):
            self.error(loc, "a condition must be an object {type, key, op, value}")
            return None
        self.unknown_keys(raw, CONDITION_KEYS, loc)
        kind: Any = raw.get("type")
        op: Any = raw.get("op")
        key, value = raw.get("key"), raw.get("value")
        before = len(self.errors)
        if kind not in CONDITION_TYPES:
            self.error(f"{loc}.type", f"must be one of {', '.join(CONDITION_TYPES)}")
        if op not in OPERATORS:
            self.error(f"{loc}.op", f"must be one of {', '.join(OPERATORS)}; got {op!r}")
        if len(self.errors) > before:
            return None
        key = self.condition_key(kind, op, key, value, loc)
        self.condition_value(kind, op, key, value, loc)
        if len(self.errors) > before:
            return None
        return {
            "condition_type": kind,
            "condition_key": key,
            "operator": op,
            "value": encode_value(value),
        }

    def condition_key(self, kind: str, op: str, key: Any, value: Any, loc: str) -> str:
        keyless_tag = kind == "TAG" and (op == "MATCHES" or (op == "IN" and value is not None))
        if key is None and keyless_tag:
            return "tags"
        if not isinstance(key, str) or not key.strip():
            self.error(f"{loc}.key", "required: a non-empty string")
            return ""
        if kind in ("FACT", "VALUE") and any(not part for part in key.split(".")):
            self.error(f"{loc}.key", f"not a dotted path: {key!r}")
        return key

    def condition_value(self, kind: str, op: str, key: str, value: Any, loc: str) -> None:
        where = f"{loc}.value"
        if op == "EXISTS":
            if value is not None:
                self.error(where, "EXISTS takes no value")
        elif op in ORDERING:
            if kind == "TAG":
                self.error(f"{loc}.op", f"{op} makes no sense for a TAG (use EXISTS, =, != or IN)")
            elif isinstance(value, bool) or not isinstance(value, int | float | str):
                self.error(where, f"{op} needs a number or a string")
        elif op == "IN":
            if not isinstance(value, list) and not (kind == "TAG" and value is None):
                self.error(where, "IN needs a list value")
        elif op == "MATCHES":
            self.pattern(value, where)
        elif kind == "TAG" and value is not None and value != key:
            self.error(where, f"a TAG {op} compares the tag named by key; value must be {key!r}")
        elif kind == "SIGNAL" and op in ("=", "!=") and value is None:
            self.error(where, f"{op} needs a value")

    def pattern(self, value: Any, where: str) -> None:
        if not isinstance(value, str):
            self.error(where, "MATCHES needs a regular expression string")
            return
        try:
            compile_pattern(value)
        except ValueError as exc:
            self.error(where, str(exc))

    # ------------------------------------------------------------------ emissions
    def emissions(
        self, raw: Any, rule_loc: str, types: dict[str, Any], metadata: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.error(f"{rule_loc}.emissions", "must be a list")
            return []
        built: list[dict[str, Any]] = []
        for position, item in enumerate(raw):
            emission = self.emission(item, f"{rule_loc}.emissions[{position}]", types)
            if emission is not None:
                built.append({**emission, "position": position})
        self.gate_source(built, rule_loc, metadata)
        return built

    def emission(self, raw: Any, loc: str, types: dict[str, Any]) -> dict[str, Any] | None:
        if not isinstance(raw, Mapping):
            self.error(loc, "an emission must be an object {subtask_type, name, ...}")
            return None
        self.unknown_keys(raw, EMISSION_KEYS, loc)
        subtask_type = raw.get("subtask_type")
        before = len(self.errors)
        if not isinstance(subtask_type, str) or subtask_type not in types:
            known = ", ".join(sorted(types)) or "none declared"
            self.error(f"{loc}.subtask_type", f"unknown subtask type {subtask_type!r} ({known})")
        name = raw.get("name") or subtask_type
        if not isinstance(name, str):
            self.error(f"{loc}.name", "must be a string")
        relationship = raw.get("relationship", "EMITS")
        if relationship not in RELATIONSHIPS:
            self.error(f"{loc}.relationship", f"must be one of {', '.join(RELATIONSHIPS)}")
        params = raw.get("params") or {}
        if not isinstance(params, Mapping):
            self.error(f"{loc}.params", "must be an object")
        if len(self.errors) > before:
            return None
        return {
            "subtask_type": subtask_type,
            "name": name,
            "relationship_type": relationship,
            "params": dict(params),
        }

    def gate_source(
        self, emissions: list[dict[str, Any]], rule_loc: str, metadata: Mapping[str, Any]
    ) -> None:
        gates = [e for e in emissions if e["relationship_type"] == "GATE"]
        if not gates:
            return
        source = metadata.get("gate_source")
        names = {e["name"] for e in emissions if e["relationship_type"] != "GATE"}
        if source is None:
            self.error(f"{rule_loc}.metadata.gate_source", "a GATE emission needs a gate_source")
        elif source not in names:
            self.error(
                f"{rule_loc}.metadata.gate_source",
                f"{source!r} is not emitted by this rule (emits: {', '.join(sorted(names))})",
            )

    # ------------------------------------------------------------------ fixtures and wasm
    def fixtures(self, raw: Any) -> list[Fixture]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.error("fixtures", "must be a list of {name, input, expect}")
            return []
        fixtures: list[Fixture] = []
        names: set[str] = set()
        for index, item in enumerate(raw):
            fixture = self.fixture(item, f"fixtures[{index}]", names)
            if fixture is not None:
                fixtures.append(fixture)
        return fixtures

    def fixture(self, raw: Any, loc: str, names: set[str]) -> Fixture | None:
        if not isinstance(raw, Mapping):
            self.error(loc, "a fixture must be an object {name, input, expect}")
            return None
        self.unknown_keys(raw, FIXTURE_KEYS, loc)
        name: Any = raw.get("name")
        facts, expect = raw.get("input", {}), raw.get("expect", {})
        before = len(self.errors)
        if not isinstance(name, str) or not name.strip():
            self.error(f"{loc}.name", "required: a non-empty string")
        elif name in names:
            self.error(f"{loc}.name", f"duplicate fixture name {name!r}")
        if not isinstance(facts, Mapping):
            self.error(f"{loc}.input", "must be an object of task facts")
        if not isinstance(expect, Mapping):
            self.error(f"{loc}.expect", "must be an object (a partial expected result)")
        if len(self.errors) > before:
            return None
        names.add(name)
        return Fixture(name=name, input=dict(facts), expect=dict(expect))

    def wasm(self, raw: Any, engine: str | None) -> tuple[bytes | None, str | None]:
        if engine != "wasm":
            if raw is not None:
                self.error("wasm", "only a document with engine: wasm has a wasm section")
            return None, None
        if not isinstance(raw, Mapping):
            self.error("wasm", "required for engine wasm: {artifact: <base64>, entrypoint}")
            return None, None
        self.unknown_keys(raw, frozenset({"artifact", "entrypoint", "file"}), "wasm")
        if "file" in raw:
            self.error("wasm.file", "file paths are read by pkgctl push; send base64 artifact")
        entrypoint = raw.get("entrypoint", DEFAULT_ENTRYPOINT)
        if not isinstance(entrypoint, str) or not entrypoint:
            self.error("wasm.entrypoint", "must be a non-empty string such as pkg/result")
        artifact = raw.get("artifact")
        if not isinstance(artifact, str) or not artifact:
            self.error("wasm.artifact", "required: the module's bytes, base64-encoded")
            return None, None
        try:
            data = base64.b64decode(artifact, validate=True)
        except (binascii.Error, ValueError):
            self.error("wasm.artifact", "not valid base64")
            return None, None
        if not data.startswith(b"\x00asm"):
            self.error("wasm.artifact", "not a WebAssembly module (no \\0asm header)")
        return data, entrypoint if isinstance(entrypoint, str) else None
