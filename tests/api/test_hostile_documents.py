"""Hostile policy documents (issue 16): each is refused with a 422 that says why, and nothing is
stored, so a client's corrected retry is not met with a 409."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from app.domain.document import MAX_DOCUMENT_DEPTH
from tests.api.test_errors import assert_problem

YAML = {"Content-Type": "application/yaml"}
JSON = {"Content-Type": "application/json"}


def alias_bomb() -> bytes:
    """The issue's body: seven levels of `&x [*y, *y, ...]` under rules[0].metadata."""
    lines = [
        "version: bomb@1",
        "subtask_types: {s: {}}",
        "rules:",
        "  - name: r",
        "    emissions: [{subtask_type: s}]",
        "    metadata:",
        '      l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    for level in range(1, 8):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"      l{level}: &l{level} [{refs}]")
    body = ("\n".join(lines) + "\n").encode()
    assert len(body) < 1024  # small on the wire; 9**8 strings once expanded
    return body


async def assert_nothing_stored(api: httpx.AsyncClient, version: str | None = None) -> None:
    assert (await api.get("/snapshots")).json() == []
    if version is not None:
        assert (await api.get(f"/snapshots/{version}")).status_code == 404


async def test_a_yaml_alias_bomb_is_422_and_stores_nothing(api: httpx.AsyncClient) -> None:
    body = assert_problem(await api.post("/snapshots", content=alias_bomb(), headers=YAML), 422)
    assert body["errors"] == [
        {"loc": "document", "msg": "YAML aliases (*name) are not allowed in policy documents"}
    ]
    await assert_nothing_stored(api, "bomb@1")


def nested_yaml(levels: int) -> bytes:
    return b"version: deep@1\nrules: " + b"[" * levels + b"]" * levels + b"\n"


def nested_json(levels: int) -> bytes:
    return b'{"version": "deep@1", "rules": ' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (nested_yaml(5000), YAML),
        (nested_json(5000), JSON),
        (nested_json(MAX_DOCUMENT_DEPTH + 1), JSON),  # below the JSON parser's own limit
        (nested_yaml(MAX_DOCUMENT_DEPTH + 1), YAML),
    ],
    ids=["yaml-5000", "json-5000", "json-just-over", "yaml-just-over"],
)
async def test_a_deeply_nested_document_is_422_and_stores_nothing(
    api: httpx.AsyncClient, content: bytes, headers: dict[str, str]
) -> None:
    body = assert_problem(await api.post("/snapshots", content=content, headers=headers), 422)
    assert [e["loc"] for e in body["errors"]] == ["document"]
    assert "depth" in body["errors"][0]["msg"], body
    await assert_nothing_stored(api, "deep@1")


def document(version: Any, **rule: Any) -> dict[str, Any]:
    return {
        "version": version,
        "subtask_types": {"escalate": {}},
        "rules": [{"name": "r", "emissions": [{"subtask_type": "escalate"}], **rule}],
    }


@pytest.mark.parametrize("version", ["bad\nversion@1", "bad\rversion@1", "bad\x00version@1"])
@pytest.mark.parametrize("headers", [JSON, YAML], ids=["json", "yaml"])
async def test_a_version_with_control_characters_is_422_and_stores_nothing(
    api: httpx.AsyncClient, version: str, headers: dict[str, str]
) -> None:
    payload = orjson.dumps(document(version))  # JSON is YAML: the same bytes for both types
    body = assert_problem(await api.post("/snapshots", content=payload, headers=headers), 422)
    assert [e["loc"] for e in body["errors"]] == ["version"]
    assert "control characters" in body["errors"][0]["msg"]
    await assert_nothing_stored(api)


@pytest.mark.parametrize("version", ["日本語@1", "emoji-😀@1"])
async def test_a_version_of_printable_unicode_is_stored_and_readable(
    api: httpx.AsyncClient, version: str
) -> None:
    created = await api.post("/snapshots", json=document(version))
    assert created.status_code == 201, created.text
    assert created.json()["version"] == version
    assert (await api.get(created.headers["Location"])).json()["version"] == version


# Every (type, op, value) that can never hold, from DESIGN.md §3; the case comes first.
NEVER_HOLDS: list[tuple[dict[str, Any], str, str]] = [
    ({"type": "SIGNAL", "key": "x2", "op": ">=", "value": "high"}, "value", "number"),
    ({"type": "SIGNAL", "key": "x2", "op": "=", "value": "high"}, "value", "number"),
    ({"type": "SIGNAL", "key": "x2", "op": "!=", "value": True}, "value", "number"),
    ({"type": "SIGNAL", "key": "x2", "op": "IN", "value": ["low", "high"]}, "value", "number"),
    ({"type": "SIGNAL", "key": "x2", "op": "MATCHES", "value": "^h"}, "op", "number"),
    ({"type": "FACT", "key": "a.b", "op": "<", "value": [1, 2]}, "value", "number or a string"),
    ({"type": "VALUE", "key": "a", "op": ">", "value": {"x": 1}}, "value", "number or a string"),
    ({"type": "FACT", "key": "a", "op": "<=", "value": None}, "value", "number or a string"),
    ({"type": "FACT", "key": "a", "op": "IN", "value": "abc"}, "value", "list"),
    ({"type": "FACT", "key": "a", "op": "IN", "value": []}, "value", "empty list"),
    ({"type": "TAG", "op": "IN", "value": [1, 2]}, "value", "tag names"),
    ({"type": "VALUE", "key": "a", "op": "MATCHES", "value": 5}, "value", "string"),
    ({"type": "TAG", "op": "MATCHES", "value": ["vip"]}, "value", "string"),
    ({"type": "TAG", "key": "vip", "op": "<", "value": "z"}, "op", "TAG"),
    ({"type": "TAG", "key": "vip", "op": "!=", "value": 3}, "value", "tag"),
    ({"type": "FACT", "key": "a", "op": "EXISTS", "value": False}, "value", "no value"),
]


@pytest.mark.parametrize(("condition", "field", "words"), NEVER_HOLDS)
async def test_a_condition_that_can_never_hold_is_422_and_stores_nothing(
    api: httpx.AsyncClient, condition: dict[str, Any], field: str, words: str
) -> None:
    sent = document("never@1", conditions=[condition])
    body = assert_problem(await api.post("/snapshots", json=sent), 422)
    errors = {e["loc"]: e["msg"] for e in body["errors"]}
    assert list(errors) == [f"rules[0].conditions[0].{field}"], errors
    assert words in errors[f"rules[0].conditions[0].{field}"]
    await assert_nothing_stored(api, "never@1")


@pytest.mark.parametrize(
    "condition",
    [
        {"type": "SIGNAL", "key": "x2", "op": ">=", "value": 0.7},
        {"type": "SIGNAL", "key": "x2", "op": "IN", "value": [1, 2.5]},
        {"type": "FACT", "key": "a", "op": ">=", "value": "m"},
        {"type": "FACT", "key": "a", "op": "=", "value": None},
        {"type": "FACT", "key": "a", "op": "IN", "value": [1, "a", None]},
        {"type": "TAG", "op": "IN", "value": ["vip", "gold"]},
        {"type": "TAG", "key": "vip", "op": "!=", "value": "vip"},
    ],
)
async def test_a_condition_that_can_hold_is_stored(
    api: httpx.AsyncClient, condition: dict[str, Any]
) -> None:
    created = await api.post("/snapshots", json=document("holds@1", conditions=[condition]))
    assert created.status_code == 201, created.text
