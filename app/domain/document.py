"""Policy documents (what users write, YAML or JSON) → validated `PolicyDocument` → snapshot.

A document is checked completely before anything is stored (DESIGN.md §2): every problem is
collected with a `loc` naming the rule, condition and field (`rules[vip].conditions[1].op`), so
one round trip tells an author everything that is wrong.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

import rfc8785

from app.domain.document_model import (
    ENVIRONMENTS,
    ConditionDoc,
    PolicyDocumentModel,
    RuleDoc,
    WasmDoc,
    check_document,
    decode_artifact,
)
from app.domain.errors import DocumentError, FieldError
from app.domain.nesting import nests_deeper
from app.domain.snapshot import (
    CHECKSUM_SCHEME,
    Condition,
    PKGSnapshotData,
    Rule,
    content_checksum,
    decode_value,
    encode_data,
    encode_value,
)

__all__ = ["ENVIRONMENTS", "MAX_DOCUMENT_DEPTH", "Fixture", "PolicyDocument"]

RULE_ID_NAMESPACE: Final = uuid.UUID("6f1c3a2e-4b7d-5e8f-9a0b-1c2d3e4f5a6b")
MAX_DOCUMENT_DEPTH: Final = 64  # containers inside containers; the document itself is depth 1


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
class WasmExtras:
    """What a wasm policy carries besides its module (from an OPA bundle or the `wasm:` section)."""

    data: bytes | None = None  # canonical JSON (`encode_data`)
    entrypoints: tuple[str, ...] = ()
    revision: str | None = None
    strict_builtin_errors: bool = False


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
    wasm: WasmExtras = field(default_factory=WasmExtras)

    @cached_property
    def checksum(self) -> str:  # computed once: RFC 8785 in pure Python is not free
        return content_checksum(
            self.engine,
            self.wasm_artifact,
            self.rules,
            self.subtask_types,
            wasm_data=self.wasm.data,
            scheme=self.checksum_scheme,
        )

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
            wasm_data=self.wasm.data,
            entrypoints=self.wasm.entrypoints,
            revision=self.wasm.revision,
            strict_builtin_errors=self.wasm.strict_builtin_errors,
        )


def parse_policy_document(raw: Any) -> PolicyDocument:
    """Validate the whole document; raise `DocumentError` listing every problem found."""
    if not isinstance(raw, Mapping):
        raise DocumentError([FieldError("document", "a policy document must be an object")])
    if nests_deeper(raw, MAX_DOCUMENT_DEPTH):
        msg = f"the document nests deeper than the maximum depth of {MAX_DOCUMENT_DEPTH}"
        raise DocumentError([FieldError("document", msg)])
    model, errors = check_document(raw)
    if model is None:
        raise DocumentError(errors or [FieldError("document", "invalid document")])
    try:
        document = _build(model)  # wasm data is encoded as RFC 8785 here
        document.checksum  # noqa: B018  # RFC 8785 refuses what I-JSON cannot hold: say so now
    except rfc8785.CanonicalizationError as exc:
        raise DocumentError(
            [FieldError("document", f"not canonical JSON (RFC 8785): {exc}")]
        ) from exc
    return document


def _build(model: PolicyDocumentModel) -> PolicyDocument:
    """The checked document → the snapshot's normalised rules (every default filled in once)."""
    wasm = model.wasm if model.engine == "wasm" else None
    return PolicyDocument(
        version=model.version,
        env=model.env,
        engine=model.engine,
        rules=[_build_rule(model.version, rule) for rule in model.rules or []],
        subtask_types={
            name: {"default_params": dict((spec.default_params if spec else None) or {})}
            for name, spec in (model.subtask_types or {}).items()
        },
        fixtures=[
            Fixture(name=f.name, input=dict(f.input), expect=dict(f.expect))
            for f in model.fixtures or []
        ],
        wasm_artifact=decode_artifact(wasm.artifact) if wasm and wasm.artifact else None,
        entrypoint=wasm.default_entrypoint() if wasm else None,
        notes=model.notes,
        wasm=_wasm_extras(wasm),
    )


def _wasm_extras(wasm: WasmDoc | None) -> WasmExtras:
    if wasm is None:
        return WasmExtras()
    return WasmExtras(
        data=encode_data(wasm.data),
        entrypoints=tuple(dict.fromkeys(wasm.entrypoints or ())),
        revision=wasm.revision,
        strict_builtin_errors=wasm.strict_builtin_errors,
    )


def _build_rule(version: str, rule: RuleDoc) -> Rule:
    return {
        "id": rule_id_for(version, rule.name),
        "rule_name": rule.name,
        "priority": rule.priority,
        "disabled": rule.disabled,
        "metadata": dict(rule.metadata or {}),
        "conditions": [_build_condition(c, i) for i, c in enumerate(rule.conditions or [])],
        "emissions": [
            {
                "subtask_type": e.subtask_type,
                "name": e.name or e.subtask_type,
                "relationship_type": e.relationship,
                "params": dict(e.params or {}),
                "position": position,
            }
            for position, e in enumerate(rule.emissions or [])
        ],
    }


def _build_condition(condition: ConditionDoc, position: int) -> Condition:
    keyless = condition.key is None  # only a TAG MATCHES / IN list may omit it
    return {
        "condition_type": condition.type,
        "condition_key": "tags" if keyless else condition.key,
        "operator": condition.op,
        "value": encode_value(condition.value),
        "position": position,
    }


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
        body["wasm"] = wasm_section(snapshot)
    if snapshot.notes:
        body["notes"] = snapshot.notes
    body["fixtures"] = [
        {"name": f.name, "input": f.input, "expect": f.expect} for f in fixtures or []
    ]
    return body


def wasm_section(snapshot: PKGSnapshotData) -> dict[str, Any]:
    """A wasm snapshot's `wasm:` section: parsing it again gives the same checksum."""
    section: dict[str, Any] = {
        "artifact": base64.b64encode(snapshot.wasm_artifact or b"").decode("ascii"),
        "entrypoint": snapshot.entrypoint,
    }
    if snapshot.entrypoints:
        section["entrypoints"] = list(snapshot.entrypoints)
    if snapshot.wasm_data:
        section["data"] = json.loads(snapshot.wasm_data)
    if snapshot.revision is not None:
        section["revision"] = snapshot.revision
    if snapshot.strict_builtin_errors:
        section["strict_builtin_errors"] = True
    return section


def _rule_to_document(rule: Rule) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": rule["rule_name"],
        "priority": rule["priority"],
        "conditions": [_condition_to_document(c) for c in rule["conditions"]],
        "emissions": [
            {
                "subtask_type": e["subtask_type"],
                "name": e["name"],
                "relationship": e["relationship_type"],
                "params": e["params"],
            }
            for e in rule["emissions"]
        ],
    }
    if rule["disabled"]:
        body["disabled"] = True
    if rule["metadata"]:
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
