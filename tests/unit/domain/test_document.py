"""Policy documents: everything wrong is reported at once, with a location an author can find."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.domain.document import document_from_snapshot, parse_policy_document, rule_id_for
from app.domain.errors import DocumentError
from app.domain.snapshot import decode_value
from app.services.policy_text import load_policy_text

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def minimal(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": "rules@1.0.0",
        "env": "prod",
        "subtask_types": {"escalate": {"default_params": {"level": "normal"}}},
        "rules": [
            {
                "name": "vip",
                "conditions": [{"type": "TAG", "key": "vip", "op": "EXISTS"}],
                "emissions": [{"subtask_type": "escalate"}],
            }
        ],
    }
    document.update(changes)
    return document


def with_condition(condition: dict[str, Any]) -> dict[str, Any]:
    document = minimal()
    document["rules"][0]["conditions"] = [condition]
    return document


def errors_of(document: Any) -> dict[str, str]:
    with pytest.raises(DocumentError) as caught:
        parse_policy_document(document)
    return {e.loc: e.msg for e in caught.value.errors}


@pytest.mark.parametrize("name", ["hotel_ops.yaml", "hotel_ops_v2.yaml"])
def test_the_demo_policies_are_valid(name: str) -> None:
    document = parse_policy_document(load_policy_text((EXAMPLES / name).read_text()))
    assert 15 <= len(document.rules) <= 30 and document.fixtures


def test_a_minimal_document_gets_defaults_and_deterministic_rule_ids() -> None:
    document = parse_policy_document(minimal())
    rule = document.rules[0]
    assert (document.engine, rule["priority"], rule["disabled"], rule["metadata"]) == (
        "native",
        100,
        False,
        {},
    )
    assert rule["id"] == rule_id_for("rules@1.0.0", "vip")
    assert rule["emissions"][0]["name"] == "escalate"
    assert rule["emissions"][0]["relationship_type"] == "EMITS"


def test_values_are_stored_as_json_text_and_decode_back() -> None:
    document = parse_policy_document(
        with_condition({"type": "FACT", "key": "x", "op": "IN", "value": [0.5, "a"]})
    )
    stored = document.rules[0]["conditions"][0]["value"]
    assert isinstance(stored, str) and decode_value(stored) == [0.5, "a"]


@pytest.mark.parametrize(
    ("condition", "loc", "words"),
    [
        ({"type": "TAG", "key": "vip", "op": ">", "value": 1}, "op", "TAG"),
        ({"type": "NUMBER", "key": "x", "op": "="}, "type", "one of"),
        ({"type": "SIGNAL", "key": "x", "op": "~="}, "op", "one of"),
        ({"type": "SIGNAL", "key": "x", "op": "IN", "value": 3}, "value", "list"),
        ({"type": "FACT", "key": "a.b", "op": "MATCHES", "value": "(a"}, "value", "RE2"),
        ({"type": "FACT", "key": "a.b", "op": "MATCHES", "value": "(?=look)"}, "value", "RE2"),
        ({"type": "FACT", "key": "a.b", "op": "MATCHES", "value": 7}, "value", "string"),
        ({"type": "SIGNAL", "key": "x", "op": ">=", "value": [1]}, "value", "number"),
        ({"type": "SIGNAL", "key": "x", "op": ">=", "value": True}, "value", "number"),
        ({"type": "FACT", "key": "a..b", "op": "EXISTS"}, "key", "dotted"),
        ({"type": "SIGNAL", "op": "EXISTS"}, "key", "required"),
        ({"type": "SIGNAL", "key": "x", "op": "EXISTS", "value": 1}, "value", "no value"),
        ({"type": "TAG", "key": "vip", "op": "=", "value": "gold"}, "value", "vip"),
        ({"type": "TAG", "key": "vip", "op": "EXISTS", "when": 1}, "when", "unknown"),
    ],
)
def test_a_bad_condition_is_named_by_rule_condition_and_field(
    condition: dict[str, Any], loc: str, words: str
) -> None:
    errors = errors_of(with_condition(condition))
    where = f"rules[0].conditions[0].{loc}"
    assert where in errors, errors
    assert words in errors[where]


def test_every_problem_is_reported_not_just_the_first() -> None:
    document = minimal(env="moon", engine="lisp")
    document["rules"].append({"name": "vip", "emissions": [{"subtask_type": "nope"}]})
    errors = errors_of(document)
    assert {"env", "engine", "rules[1].name", "rules[1].emissions[0].subtask_type"} <= set(errors)
    assert "rule 'vip'" in errors["rules[1].emissions[0].subtask_type"]
    assert "escalate" in errors["rules[1].emissions[0].subtask_type"]


def test_a_gate_needs_a_source_emitted_by_the_same_rule() -> None:
    document = minimal()
    document["rules"][0]["emissions"].append(
        {"subtask_type": "escalate", "name": "g", "relationship": "GATE"}
    )
    assert "rules[0].metadata.gate_source" in errors_of(document)
    document["rules"][0]["metadata"] = {"gate_source": "elsewhere"}
    assert "not emitted" in errors_of(document)["rules[0].metadata.gate_source"]
    document["rules"][0]["metadata"] = {"gate_source": "escalate"}
    assert parse_policy_document(document).rules[0]["metadata"]["gate_source"] == "escalate"


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"version": ""}, "version"),
        ({"version": 12}, "version"),
        ({"rules": {"a": 1}}, "rules"),
        ({"subtask_types": []}, "subtask_types"),
        ({"fixtures": [{"name": "f", "input": [], "expect": {}}]}, "fixtures[0].input"),
        ({"fixtures": [{"name": "f"}, {"name": "f"}]}, "fixtures[1].name"),
        ({"colour": "blue"}, "colour"),
        ({"wasm": {"artifact": "AA=="}}, "wasm"),
        ({"rules": [{"name": "r", "priority": 2**40}]}, "rules[0].priority"),
    ],
)
def test_document_level_problems_name_their_field(changes: dict[str, Any], loc: str) -> None:
    assert loc in errors_of(minimal(**changes))


def test_a_non_object_document_is_refused() -> None:
    assert "document" in errors_of(["rules"])
    with pytest.raises(DocumentError):
        load_policy_text("rules: [unclosed")
    with pytest.raises(DocumentError):
        load_policy_text("- just\n- a list\n")


def test_a_wasm_document_carries_a_base64_module_and_an_entrypoint() -> None:
    module = b"\x00asm\x01\x00\x00\x00"
    document = parse_policy_document(
        minimal(
            engine="wasm",
            rules=[],
            wasm={"artifact": base64.b64encode(module).decode(), "entrypoint": "pkg/decide"},
        )
    )
    snapshot = document.to_snapshot()
    assert (snapshot.wasm_artifact, snapshot.entrypoint) == (module, "pkg/decide")
    snapshot.verify_checksum()
    bad = minimal(engine="wasm", rules=[], wasm={"artifact": base64.b64encode(b"hi").decode()})
    assert "WebAssembly" in errors_of(bad)["wasm.artifact"]
    assert "wasm.artifact" in errors_of(minimal(engine="wasm", rules=[], wasm={"artifact": "%%"}))


def test_a_snapshot_reads_back_as_a_document_with_the_same_checksum() -> None:
    raw = load_policy_text((EXAMPLES / "hotel_ops.yaml").read_text())
    document = parse_policy_document(raw)
    again = document_from_snapshot(document.to_snapshot(), list(document.fixtures))
    again = yaml.safe_load(yaml.safe_dump(again))
    assert parse_policy_document(again).checksum == document.checksum
    assert again["fixtures"] == raw["fixtures"]


def test_the_checksum_follows_meaning_not_formatting() -> None:
    base = parse_policy_document(minimal()).checksum
    assert parse_policy_document(minimal(version="rules@2.0.0")).checksum == base
    changed = copy.deepcopy(minimal())
    changed["rules"][0]["priority"] = 5
    assert parse_policy_document(changed).checksum != base
