"""The published JSON Schema of policy documents: served, used by OpenAPI, and it agrees with the
server on the examples and on the documents the server refuses."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.api.routes.schemas import policy_schema
from app.services.policy_text import load_policy_text
from tests.api.conftest import EXAMPLES
from tests.unit.domain.test_document import minimal, with_condition

# Bad documents from tests/unit/domain/test_document.py that a schema can express, with the
# location the server reports. The schema's error is at that location or at its parent object.
REFUSED: list[tuple[dict[str, Any], str]] = [
    (with_condition({"type": "TAG", "key": "vip", "op": ">", "value": 1}), "op"),
    (with_condition({"type": "NUMBER", "key": "x", "op": "="}), "type"),
    (with_condition({"type": "SIGNAL", "key": "x", "op": "~="}), "op"),
    (with_condition({"type": "SIGNAL", "key": "x", "op": "IN", "value": 3}), "value"),
    (with_condition({"type": "FACT", "key": "a.b", "op": "MATCHES", "value": 7}), "value"),
    (with_condition({"type": "SIGNAL", "key": "x", "op": ">=", "value": [1]}), "value"),
    (with_condition({"type": "SIGNAL", "key": "x", "op": ">=", "value": True}), "value"),
    (with_condition({"type": "SIGNAL", "key": "x", "op": ">=", "value": "high"}), "value"),
    (with_condition({"type": "FACT", "key": "a..b", "op": "EXISTS"}), "key"),
    (with_condition({"type": "SIGNAL", "op": "EXISTS"}), "key"),
    (with_condition({"type": "SIGNAL", "key": "x", "op": "EXISTS", "value": 1}), "value"),
    (with_condition({"type": "TAG", "key": "vip", "op": "EXISTS", "when": 1}), "when"),
]
REFUSED_DOCUMENTS: list[tuple[dict[str, Any], str]] = [
    (minimal(version=""), "version"),
    (minimal(version=12), "version"),
    (minimal(version="a\nb"), "version"),
    (minimal(rules={"a": 1}), "rules"),
    (minimal(subtask_types=[]), "subtask_types"),
    (minimal(fixtures=[{"name": "f", "input": [], "expect": {}}]), "fixtures[0].input"),
    (minimal(colour="blue"), "colour"),
    (minimal(rules=[{"name": "r", "priority": 2**40}]), "rules[0].priority"),
    (minimal(env="moon"), "env"),
]
# What only the server checks (the schema says so in its descriptions): RE2 syntax, a TAG `=`
# value equal to its key, declared subtask types, GATE sources, unique names, base64 modules.


@pytest.fixture
def schema() -> dict[str, Any]:
    return policy_schema()


async def test_the_schema_is_served_without_a_token(api: httpx.AsyncClient) -> None:
    response = await api.get("/schemas/policy.json", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    assert response.json() == policy_schema()
    jsonschema.Draft202012Validator.check_schema(response.json())


def _places(errors: Any) -> set[str]:
    """Where the schema's errors are, descending into `anyOf` alternatives (`X | None`)."""
    found: set[str] = set()
    for error in errors:
        found.add(_loc(error.absolute_path))
        found |= _places(error.context or [])
    return found


def _loc(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_the_schema_accepts_every_example(schema: dict[str, Any], path: Any) -> None:
    jsonschema.validate(load_policy_text(path.read_text()), schema)


@pytest.mark.parametrize(
    ("document", "loc"),
    [(d, f"rules[0].conditions[0].{field}") for d, field in REFUSED] + REFUSED_DOCUMENTS,
)
async def test_the_schema_refuses_what_the_server_refuses_at_the_same_place(
    schema: dict[str, Any], api: httpx.AsyncClient, document: dict[str, Any], loc: str
) -> None:
    served = await api.post("/snapshots", json=document)
    assert served.status_code == 422
    assert loc in {e["loc"] for e in served.json()["errors"]}
    places = _places(jsonschema.Draft202012Validator(schema).iter_errors(document))
    parent = loc.rsplit(".", 1)[0] if "." in loc else ""
    assert places & {loc, parent}, (loc, places)


async def test_post_snapshots_documents_its_body_with_the_schema(
    api: httpx.AsyncClient, schema: dict[str, Any]
) -> None:
    openapi = (await api.get("/openapi.json")).json()
    body = openapi["paths"]["/snapshots"]["post"]["requestBody"]["content"]
    embedded = body["application/json"]["schema"]
    assert set(embedded["properties"]) == set(schema["properties"])
    assert set(embedded["$defs"]) == set(schema["$defs"])
    # the embedded copy's references resolve inside /openapi.json
    registry: Registry[Any] = Registry().with_resource(
        "urn:pkg:openapi", Resource.from_contents(openapi, default_specification=DRAFT202012)
    )
    pointer = "urn:pkg:openapi#/paths/~1snapshots/post/requestBody/content/application~1json/schema"
    validator = jsonschema.Draft202012Validator({"$ref": pointer}, registry=registry)
    assert validator.is_valid(minimal())
    assert not validator.is_valid(with_condition({"type": "SIGNAL", "key": "x", "op": "MATCHES"}))
