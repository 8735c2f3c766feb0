"""The policy document's shape as pydantic models: one source for checking and the JSON Schema.

`extra="forbid"` and strict types give the structural checks; what a type cannot say (RE2
validity, GATE sources, which operator/type/value combinations can ever hold, names that must
be unique or declared) is a validator on the model. Pydantic's errors are translated into PKG's
`FieldError(loc, msg)`: `loc` in the document's own notation (`rules[0].conditions[1].op`), `msg`
written for a policy author. `policy_json_schema()` is what `GET /schemas/policy.json` serves.

Cross-references (declared subtask types, the document's engine, names already seen) travel in
the validation context, so every problem is reported in one pass even when other parts fail.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.domain.bundle import BundleError, opa_bundle_wasm_section, read_members, read_opa_bundle
from app.domain.conditions import compile_pattern
from app.domain.errors import FieldError
from app.domain.facts import json_kind
from app.domain.snapshot import (
    CONDITION_TYPES,
    DEFAULT_ENTRYPOINT,
    DEFAULT_PRIORITY,
    ENGINES,
    OPERATORS,
    RELATIONSHIPS,
)

ENVIRONMENTS: Final = ("prod", "staging", "dev")
ORDERING: Final = (">=", "<=", ">", "<")
MAX_VERSION_LENGTH: Final = 200
PRIORITY_RANGE: Final = (-(2**31), 2**31 - 1)  # stored as a 32-bit INTEGER
VERSION_RULE: Final = (
    f"1-{MAX_VERSION_LENGTH} printable characters, no control characters,"
    " no surrounding spaces, no '/'"
)
_PROBLEMS: Final = "pkg_problems"
_EDGE = r"[^\s/\x00-\x1f\x7f-\x9f]"
_VERSION: Final = rf"^{_EDGE}(?:[^/\x00-\x1f\x7f-\x9f]*{_EDGE})?$"  # approximates isprintable

Environment = Literal["prod", "staging", "dev"]
Engine = Literal["native", "wasm"]
ConditionType = Literal["TAG", "SIGNAL", "FACT", "VALUE"]
Operator = Literal["=", "!=", ">=", "<=", ">", "<", "IN", "EXISTS", "MATCHES"]
Relationship = Literal["EMITS", "ORDERS", "GATE"]
JsonObject = dict[str, JsonValue]


def _problems(problems: list[tuple[str, str]]) -> PydanticCustomError:
    """Several problems found by one validator, each at a field below the model (`""`: itself)."""
    return PydanticCustomError(_PROBLEMS, "{summary}", {"summary": "", "problems": problems})


def version_problem(value: str) -> str | None:
    """Why `value` cannot be a version (DESIGN.md §2), or None when it can."""
    if not value.strip():
        return "required: a non-empty string such as rules@1.4.0"
    if (
        len(value) > MAX_VERSION_LENGTH
        or not value.isprintable()
        or value != value.strip()
        or "/" in value
    ):
        return VERSION_RULE
    return None


def _unique(name: str, info: ValidationInfo, seen_in: str, duplicate: str) -> str:
    """A non-blank name not seen before in this document (names are kept in the context)."""
    if not name.strip():
        raise PydanticCustomError("blank", "blank", {})
    seen = (info.context or {}).setdefault(seen_in, set())
    if name in seen:
        raise _problems([("", duplicate)])
    seen.add(name)
    return name


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ---------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class ValueRule:
    """Which values a (type, operator) pair can ever hold with (DESIGN.md §3)."""

    kinds: frozenset[str]  # value kinds accepted ("null": no value given)
    msg: str
    items: frozenset[str] | None = None  # for lists: the item kinds that can ever match
    op_invalid: bool = False  # the operator itself makes no sense for the type (loc `op`)


def _rule(kinds: str, msg: str, items: str | None = None) -> ValueRule:
    return ValueRule(frozenset(kinds.split()), msg, frozenset(items.split()) if items else None)


_NO_VALUE = _rule("null", "{op} takes no value")
_SIGNAL_NUMBER = "a signal is a number"
# (condition type, operator) → the values that can hold. Rows not listed accept any JSON value.
VALUE_RULES: Final[dict[tuple[str, str], ValueRule]] = {
    **{(kind, "EXISTS"): _NO_VALUE for kind in CONDITION_TYPES},
    **{
        ("TAG", op): ValueRule(
            frozenset(), f"{op} makes no sense for a TAG (use EXISTS, =, != or IN)", None, True
        )
        for op in ORDERING
    },
    **{
        ("SIGNAL", op): _rule("number", f"{op} needs a number ({_SIGNAL_NUMBER})")
        for op in ORDERING
    },
    **{
        (kind, op): _rule("number string", f"{op} needs a number or a string")
        for kind in ("FACT", "VALUE")
        for op in ORDERING
    },
    ("TAG", "IN"): _rule("null list", "IN needs a list of tag names", "string"),
    ("SIGNAL", "IN"): _rule("list", f"IN needs a list of numbers ({_SIGNAL_NUMBER})", "number"),
    ("FACT", "IN"): _rule("list", "IN needs a list value"),
    ("VALUE", "IN"): _rule("list", "IN needs a list value"),
    ("TAG", "MATCHES"): _rule("string", "MATCHES needs a regular expression string"),
    ("FACT", "MATCHES"): _rule("string", "MATCHES needs a regular expression string"),
    ("VALUE", "MATCHES"): _rule("string", "MATCHES needs a regular expression string"),
    ("SIGNAL", "MATCHES"): ValueRule(
        frozenset(), f"MATCHES searches strings; {_SIGNAL_NUMBER} (use >=, <=, > or <)", None, True
    ),
    ("TAG", "="): _rule("null string", "a TAG = compares the tag named by key"),
    ("TAG", "!="): _rule("null string", "a TAG != compares the tag named by key"),
    ("SIGNAL", "="): _rule("number", f"= needs a number ({_SIGNAL_NUMBER})"),
    ("SIGNAL", "!="): _rule("number", f"!= needs a number ({_SIGNAL_NUMBER})"),
}


def value_problems(kind: str, op: str, key: str | None, value: Any) -> list[tuple[str, str]]:
    """Every reason the condition `(kind, key, op, value)` can never hold, by field."""
    rule = VALUE_RULES.get((kind, op))
    if rule is None:
        return []
    if rule.op_invalid:
        return [("op", rule.msg.format(op=op))]
    if json_kind(value) not in rule.kinds:
        return [("value", rule.msg.format(op=op))]
    if isinstance(value, list):
        if not value:
            return [("value", f"{op} with an empty list never holds")]
        if rule.items is not None and any(json_kind(item) not in rule.items for item in value):
            return [("value", rule.msg)]
    if op == "MATCHES":
        try:
            compile_pattern(value)
        except ValueError as exc:
            return [("value", str(exc))]
    if kind == "TAG" and op in ("=", "!=") and value is not None and value != key:
        return [("value", f"a TAG {op} compares the tag named by key; value must be {key!r}")]
    return []


_JSON_TYPES: Final = {
    "null": "null",
    "boolean": "boolean",
    "number": "number",
    "string": "string",
    "list": "array",
    "object": "object",
}
_DOTTED: Final = r"^[^.]+(\.[^.]+)*$"


def _value_schema(rule: ValueRule) -> dict[str, Any]:
    """One row of `VALUE_RULES` as JSON Schema (what an editor can check before the server)."""
    if rule.op_invalid:
        return {"not": {}, "description": rule.msg}
    value: dict[str, Any] = {"type": sorted(_JSON_TYPES[k] for k in rule.kinds)}
    if "list" in rule.kinds:
        value["minItems"] = 1
        if rule.items is not None:
            value["items"] = {"type": sorted(_JSON_TYPES[k] for k in rule.items)}
    then: dict[str, Any] = {"properties": {"value": value}}
    if "null" not in rule.kinds:
        then["required"] = ["value"]
    return then


def _condition_schema(schema: dict[str, Any]) -> None:
    """The combination table and the key rules, as `if`/`then` clauses of the schema."""
    clauses: list[dict[str, Any]] = [
        {
            "if": {
                "properties": {"type": {"const": kind}, "op": {"const": op}},
                "required": ["type", "op"],
            },
            "then": _value_schema(rule),
        }
        for (kind, op), rule in VALUE_RULES.items()
    ]
    keyless = {
        "properties": {"type": {"const": "TAG"}, "op": {"enum": ["MATCHES", "IN"]}},
        "required": ["type", "op"],
    }
    clauses.append({"if": {"not": keyless}, "then": {"required": ["key"]}})
    clauses.append(
        {
            "if": {"properties": {"type": {"enum": ["FACT", "VALUE"]}}, "required": ["type"]},
            "then": {"properties": {"key": {"pattern": _DOTTED}}},
        }
    )
    schema["allOf"] = clauses
    schema["properties"]["key"]["anyOf"][0]["minLength"] = 1


class ConditionDoc(_Model):
    """`{type, key, op, value}`: one test on the facts; a rule's conditions are ANDed."""

    model_config = ConfigDict(json_schema_extra=_condition_schema)

    type: ConditionType
    op: Operator
    key: str | None = Field(
        default=None,
        description="TAG: the tag name; SIGNAL: a signal name; FACT/VALUE: a dotted path",
    )
    value: JsonValue = None

    @model_validator(mode="after")
    def _combination(self) -> ConditionDoc:
        problems = value_problems(self.type, self.op, self.key, self.value)
        keyless_tag = self.type == "TAG" and (
            self.op == "MATCHES" or (self.op == "IN" and self.value is not None)
        )
        if self.key is None and keyless_tag:
            pass
        elif self.key is None or not self.key.strip():
            problems.insert(0, ("key", "required: a non-empty string"))
        elif self.type in ("FACT", "VALUE") and any(not p for p in self.key.split(".")):
            problems.insert(0, ("key", f"not a dotted path: {self.key!r}"))
        if problems:
            raise _problems(problems)
        return self


# ---------------------------------------------------------------------- emissions and rules
class EmissionDoc(_Model):
    """A subtask the rule emits when it fires."""

    subtask_type: str = Field(description="a name declared under subtask_types")
    name: str | None = Field(default=None, description="defaults to the subtask type")
    relationship: Relationship = "EMITS"
    params: JsonObject | None = Field(
        default=None, description="overlaid on the subtask type's default_params"
    )

    @field_validator("subtask_type")
    @classmethod
    def _declared(cls, value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("subtask_types")
        if known is not None and value not in known:
            raise PydanticCustomError("unknown_subtask_type", "unknown", {})
        return value


class RuleDoc(_Model):
    """A named rule: when every condition holds, its emissions become subtasks."""

    name: str
    priority: int = Field(
        default=DEFAULT_PRIORITY,
        ge=PRIORITY_RANGE[0],
        le=PRIORITY_RANGE[1],
        description="higher runs first; ties by name, then document order",
    )
    disabled: bool = False
    description: str | None = None
    metadata: JsonObject | None = Field(
        default=None, description="free data; gate_source names the emission a GATE waits for"
    )
    conditions: list[ConditionDoc] | None = None
    emissions: list[EmissionDoc] | None = None

    @field_validator("name")
    @classmethod
    def _unique_name(cls, value: str, info: ValidationInfo) -> str:
        return _unique(value, info, "rule_names", "duplicate rule name")

    @model_validator(mode="after")
    def _gate_source(self) -> RuleDoc:
        emissions = self.emissions or []
        if not any(e.relationship == "GATE" for e in emissions):
            return self
        source = (self.metadata or {}).get("gate_source")
        names = {e.name or e.subtask_type for e in emissions if e.relationship != "GATE"}
        if source is None:
            raise _problems([("metadata.gate_source", "a GATE emission needs a gate_source")])
        if source not in names:
            listed = ", ".join(sorted(names))
            msg = f"{source!r} is not emitted by this rule (emits: {listed})"
            raise _problems([("metadata.gate_source", msg)])
        return self


# ---------------------------------------------------------------------- the document
class SubtaskTypeDoc(_Model):
    default_params: JsonObject | None = None


class FixtureDoc(_Model):
    """A validation case: facts in, a partial expected result out (DESIGN.md §6)."""

    name: str
    input: JsonObject = Field(default_factory=dict, description="task facts")
    expect: JsonObject = Field(default_factory=dict, description="a partial expected result")

    @field_validator("name")
    @classmethod
    def _unique_name(cls, value: str, info: ValidationInfo) -> str:
        return _unique(value, info, "fixture_names", f"duplicate fixture name {value!r}")


class WasmDoc(_Model):
    """An OPA WebAssembly module: `artifact` (base64) over HTTP; `file` for `pkgctl push`; or
    `bundle`, an OPA bundle (base64 .tar.gz) that gives artifact, data, entrypoints, revision."""

    artifact: str | None = Field(default=None, description="the module's bytes, base64")
    bundle: str | None = Field(
        default=None,
        description="an OPA bundle (opa build -t wasm), base64: module, data.json files, "
        "entrypoints and revision come from it",
    )
    entrypoint: str | None = Field(
        default=None,
        description=f"the default entrypoint (default: the first of `entrypoints`, else "
        f"{DEFAULT_ENTRYPOINT})",
        json_schema_extra={"minLength": 1},
    )
    entrypoints: list[str] | None = Field(
        default=None, description="every entrypoint of the module a caller may select"
    )
    data: JsonObject | None = Field(
        default=None, description="the policy's data document (OPA's `data`)"
    )
    revision: str | None = Field(default=None, description="the OPA bundle's revision")
    strict_builtin_errors: bool = Field(
        default=False, description="a builtin's error fails the evaluation (default: undefined)"
    )
    file: str | None = Field(
        default=None, description="a path to the .wasm or .tar.gz file; pkgctl push reads it"
    )

    @model_validator(mode="before")
    @classmethod
    def _unpack_bundle(cls, raw: Any, info: ValidationInfo) -> Any:
        """`bundle` → the section it stands for (problems name the bundle's member)."""
        if not isinstance(raw, Mapping) or raw.get("bundle") is None:
            return raw
        if (info.context or {}).get("engine") != "wasm":
            return raw
        clashes = [k for k in ("artifact", "data", "entrypoints", "revision") if k in raw]
        if clashes:
            raise _problems([(key, "comes from the bundle; leave it out") for key in clashes])
        encoded = raw["bundle"]
        members_raw = decode_artifact(encoded) if isinstance(encoded, str) else None
        if members_raw is None:
            raise _problems([("bundle", "not valid base64")])
        try:
            bundle = read_opa_bundle(read_members(members_raw))
        except BundleError as exc:
            raise _problems([(e.loc, e.msg) for e in exc.errors]) from exc
        section = opa_bundle_wasm_section(bundle, entrypoint=raw.get("entrypoint"))
        rest = {k: v for k, v in raw.items() if k not in ("bundle", "entrypoint")}
        return {**rest, **section}

    def default_entrypoint(self) -> str:
        if self.entrypoint:
            return self.entrypoint
        return self.entrypoints[0] if self.entrypoints else DEFAULT_ENTRYPOINT

    @model_validator(mode="after")
    def _module(self, info: ValidationInfo) -> WasmDoc:
        if (info.context or {}).get("engine") != "wasm":
            return self  # the document reports the misplaced section once
        problems: list[tuple[str, str]] = []
        if self.entrypoint is not None and not self.entrypoint:
            problems.append(("entrypoint", _MESSAGES["wasm.entrypoint"]))
        elif self.entrypoints and self.default_entrypoint() not in self.entrypoints:
            known = ", ".join(self.entrypoints)
            problems.append(("entrypoint", f"not one of the entrypoints {known}"))
        if self.entrypoints is not None and not all(self.entrypoints):
            problems.append(("entrypoints", "entrypoint names must be non-empty"))
        if self.file is not None:
            problems.append(("file", "file paths are read by pkgctl push; send base64 artifact"))
        if not self.artifact:
            problems.append(("artifact", "required: the module's bytes, base64-encoded"))
        elif (module := decode_artifact(self.artifact)) is None:
            problems.append(("artifact", "not valid base64"))
        elif not is_wasm_module(module):
            problems.append(("artifact", "not a WebAssembly module (no \\0asm header)"))
        if problems:
            raise _problems(problems)
        return self


def decode_artifact(artifact: str) -> bytes | None:
    try:
        return base64.b64decode(artifact, validate=True)
    except (binascii.Error, ValueError):
        return None


def is_wasm_module(data: bytes | None) -> bool:
    """The one rule for "is this wasm": the module's magic bytes."""
    return data is not None and data.startswith(b"\x00asm")


class PolicyDocumentModel(_Model):
    """A PKG policy document (DESIGN.md §2), as `POST /snapshots` and `pkgctl push` take it."""

    model_config = ConfigDict(
        title="PKG policy document",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    version: str = Field(
        description=f"e.g. rules@1.4.0: {VERSION_RULE}",
        json_schema_extra={"minLength": 1, "maxLength": MAX_VERSION_LENGTH, "pattern": _VERSION},
    )
    env: Environment = "prod"
    engine: Engine = "native"
    notes: str | None = None
    subtask_types: dict[str, SubtaskTypeDoc | None] | None = None
    rules: list[RuleDoc] | None = Field(default=None, validate_default=True)
    fixtures: list[FixtureDoc] | None = None
    wasm: WasmDoc | None = Field(
        default=None, validate_default=True, description="required when engine is wasm"
    )

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        problem = version_problem(value)
        if problem is not None:
            raise PydanticCustomError(_PROBLEMS, "", {"problems": [("", problem)]})
        return value

    @field_validator("rules", mode="before")
    @classmethod
    def _no_rules_for_wasm(cls, value: Any, info: ValidationInfo) -> Any:
        if (info.context or {}).get("engine") == "wasm" and value:
            msg = "a wasm policy carries no native rules"
            raise PydanticCustomError(_PROBLEMS, "", {"problems": [("", msg)]})
        return value

    @field_validator("wasm")
    @classmethod
    def _wasm_section(cls, value: WasmDoc | None, info: ValidationInfo) -> WasmDoc | None:
        engine = (info.context or {}).get("engine")
        if engine == "wasm" and value is None:
            raise PydanticCustomError("wasm_missing", "missing", {})
        if engine != "wasm" and value is not None:
            msg = "only a document with engine: wasm has a wasm section"
            raise PydanticCustomError(_PROBLEMS, "", {"problems": [("", msg)]})
        return value


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of policy documents, for editors and OpenAPI."""
    return PolicyDocumentModel.model_json_schema()


# ---------------------------------------------------------------------- pydantic → FieldError
_FREE_FORM: Final = frozenset(
    {"metadata", "params", "default_params", "input", "expect", "value", "data"}
)
_JSON_DATA: Final = (
    "must be JSON data: strings, numbers, booleans, null, lists, string-keyed objects"
)
_MESSAGES: Final[dict[str, str]] = {
    "": "a policy document must be an object",
    "version": "required: a non-empty string such as rules@1.4.0",
    "env": f"must be one of {', '.join(ENVIRONMENTS)}; got {{input!r}}",
    "engine": f"must be one of {', '.join(ENGINES)}; got {{input!r}}",
    "notes": "must be a string",
    "subtask_types": "must be an object: name -> {{default_params: {{...}}}}",
    "subtask_types.*": "must be an object with default_params",
    "subtask_types.*.default_params": "must be an object",
    "rules": "must be a list of rules",
    "rules[]": "a rule must be an object",
    "rules[].name": "required: a non-empty string",
    "rules[].priority": "must be an integer",
    "rules[].disabled": "must be true or false",
    "rules[].description": "must be a string",
    "rules[].metadata": "must be an object",
    "rules[].conditions": "must be a list",
    "rules[].conditions[]": "a condition must be an object {{type, key, op, value}}",
    "rules[].conditions[].type": f"must be one of {', '.join(CONDITION_TYPES)}",
    "rules[].conditions[].op": f"must be one of {', '.join(OPERATORS)}; got {{input!r}}",
    "rules[].conditions[].key": "required: a non-empty string",
    "rules[].emissions": "must be a list",
    "rules[].emissions[]": "an emission must be an object {{subtask_type, name, ...}}",
    "rules[].emissions[].subtask_type": "unknown subtask type {input!r} ({known})",
    "rules[].emissions[].name": "must be a string",
    "rules[].emissions[].relationship": f"must be one of {', '.join(RELATIONSHIPS)}",
    "rules[].emissions[].params": "must be an object",
    "fixtures": "must be a list of {{name, input, expect}}",
    "fixtures[]": "a fixture must be an object {{name, input, expect}}",
    "fixtures[].name": "required: a non-empty string",
    "fixtures[].input": "must be an object of task facts",
    "fixtures[].expect": "must be an object (a partial expected result)",
    "wasm": "required for engine wasm: {{artifact: <base64>, entrypoint}}",
    "wasm.artifact": "required: the module's bytes, base64-encoded",
    "wasm.entrypoint": "must be a non-empty string such as pkg/result",
    "wasm.file": "must be a path",
    "wasm.bundle": "an OPA bundle (.tar.gz), base64-encoded",
    "wasm.entrypoints": "must be a list of entrypoint names",
    "wasm.data": "must be an object (the policy's data document)",
    "wasm.revision": "must be a string",
    "wasm.strict_builtin_errors": "must be true or false",
}
_MODELS: Final[dict[str, type[BaseModel]]] = {
    "": PolicyDocumentModel,
    "subtask_types.*": SubtaskTypeDoc,
    "rules[]": RuleDoc,
    "rules[].conditions[]": ConditionDoc,
    "rules[].emissions[]": EmissionDoc,
    "fixtures[]": FixtureDoc,
    "wasm": WasmDoc,
}


def check_document(raw: Mapping[str, Any]) -> tuple[PolicyDocumentModel | None, list[FieldError]]:
    """Validate a raw document: the model, or every problem found (never both)."""
    types = raw.get("subtask_types")
    context: dict[str, Any] = {
        "engine": raw.get("engine", "native"),
        "subtask_types": set(types) if isinstance(types, Mapping) else set(),
    }
    try:
        return PolicyDocumentModel.model_validate(raw, context=context), []
    except ValidationError as exc:
        known = ", ".join(sorted(map(str, context["subtask_types"]))) or "none declared"
        errors = [e for error in exc.errors() for e in _field_errors(error, known)]
        return None, _name_rules(raw, errors)


def _field_errors(error: Any, known: str) -> list[FieldError]:
    loc = tuple(error["loc"])
    pattern: list[str] = []
    for index, part in enumerate(loc):
        if isinstance(part, int):
            pattern.append("[]")
        elif pattern and pattern[-1] == "subtask_types":
            pattern.append("*")
        else:
            pattern.append(str(part))
        if part in _FREE_FORM and index + 1 < len(loc):
            return [FieldError(_loc(loc[: index + 1]), _JSON_DATA)]
    key = ".".join(pattern).replace(".[]", "[]")
    if error["type"] == _PROBLEMS:
        return [
            FieldError(_loc(loc) + (f".{sub}" if sub and loc else sub), msg)
            for sub, msg in error["ctx"]["problems"]
        ]
    if error["type"] == "extra_forbidden":
        parent = ".".join(pattern[:-1]).replace(".[]", "[]")
        allowed = ", ".join(sorted(_MODELS[parent].model_fields))
        return [FieldError(_loc(loc), f"unknown field (allowed: {allowed})")]
    if error["type"] in ("greater_than_equal", "less_than_equal") and key == "rules[].priority":
        low, high = PRIORITY_RANGE
        return [FieldError(_loc(loc), f"must be between {low} and {high}")]
    template = _MESSAGES.get(key)
    if template is None:
        return [FieldError(_loc(loc), str(error["msg"]))]
    value = None if error["type"] == "missing" else error.get("input")
    return [FieldError(_loc(loc) or "document", template.format(input=value, known=known))]


def _loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _name_rules(raw: Mapping[str, Any], errors: list[FieldError]) -> list[FieldError]:
    """Locations index the rule (`rules[3]`); messages name it, so both lead to it."""
    rules = raw.get("rules")
    if not isinstance(rules, list):
        return errors
    named: list[FieldError] = []
    for error in errors:
        name = _rule_name(rules, error.loc)
        named.append(FieldError(error.loc, f"rule {name!r}: {error.msg}") if name else error)
    return named


def _rule_name(rules: list[Any], loc: str) -> str | None:
    if not loc.startswith("rules[") or "]." not in loc:
        return None
    index = loc[len("rules[") : loc.index("]")]
    if not index.isdigit() or int(index) >= len(rules) or not isinstance(rules[int(index)], dict):
        return None
    name = rules[int(index)].get("name")
    return name if isinstance(name, str) and name.strip() else None
