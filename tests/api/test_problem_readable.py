"""A 422 names the field as the caller sent it and says what is wrong in plain words, on every
route and on both /evaluate paths: no pydantic validator names, no "Input should be"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.conftest import example, push_and_promote
from tests.api.test_openapi_fuzz import PYDANTIC_MARKERS

VERSION = "hotel-ops@1.0.0"
COMPARE = f"/snapshots/{VERSION}/compare/{VERSION}"


@pytest.fixture
async def served(app_factory: Callable[..., Any]) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await app_factory()
    await push_and_promote(client, example("hotel_ops.yaml"))
    return client


def errors_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert PYDANTIC_MARKERS.search(response.text) is None, response.text
    body = response.json()
    assert body["detail"] == "; ".join(f"{e['loc']}: {e['msg']}" for e in body["errors"])
    errors: list[dict[str, str]] = body["errors"]
    return errors


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"facts": {"tags": ["vip"]}},
            [
                {
                    "loc": "facts",
                    "msg": 'unknown field; send one of "items", "fixtures_of", or a JSON list',
                }
            ],
        ),
        ({"items": "vip"}, [{"loc": "items", "msg": "must be a JSON list"}]),
        ({"items": [3]}, [{"loc": "items[0]", "msg": "must be a JSON object"}]),
        ({"items": []}, [{"loc": "items", "msg": "must have at least 1 item, not 0"}]),
        (5, [{"loc": "body", "msg": "must be a JSON object or a JSON list"}]),
        ([], [{"loc": "body", "msg": "must have at least 1 item, not 0"}]),
        ({}, [{"loc": "body", "msg": "give exactly one of items or fixtures_of"}]),
    ],
)
async def test_a_wrong_compare_body_names_the_field_in_the_callers_terms(
    served: httpx.AsyncClient, body: Any, expected: list[dict[str, str]]
) -> None:
    assert errors_of(await served.post(COMPARE, json=body)) == expected


@pytest.mark.parametrize("lean", [True, False])
async def test_both_evaluate_paths_say_what_a_query_parameter_must_be(
    app_factory: Callable[..., Any], lean: bool
) -> None:
    client: httpx.AsyncClient = await app_factory(lean_evaluate=lean)
    await push_and_promote(client, example("hotel_ops.yaml"))
    response = await client.post("/evaluate", params={"explain": "maybe"}, json={})
    assert errors_of(response) == [{"loc": "explain", "msg": "must be true or false"}]
    wrong_facts = await client.post("/evaluate", json={"tags": [1], "signals": "high"})
    assert errors_of(wrong_facts)[0]["loc"] == "tags[0]"


async def test_route_bodies_and_queries_read_plainly(served: httpx.AsyncClient) -> None:
    lane = {"version": VERSION, "target": "router", "percent": 150}
    assert errors_of(await served.post("/deployments", json=lane)) == [
        {"loc": "percent", "msg": "must be less than or equal to 100"}
    ]
    assert errors_of(await served.post("/deployments", json={"version": VERSION})) == [
        {"loc": "target", "msg": "required"},
        {"loc": "percent", "msg": "required"},
    ]
    assert errors_of(await served.post("/validation/runs", json={"version": 7})) == [
        {"loc": "version", "msg": "must be a string"}
    ]
    assert errors_of(await served.get("/snapshots", params={"limit": "ten"})) == [
        {"loc": "limit", "msg": "must be an integer"}
    ]
    batch = await served.post("/evaluate/batch", json={"items": [{"tags": ["vip"]}, "x"]})
    assert [e["loc"] for e in errors_of(batch)] == ["items[1]"]


async def test_json_that_does_not_parse_is_named_as_such(served: httpx.AsyncClient) -> None:
    response = await served.post(
        "/deployments", content=b'{"version": ', headers={"content-type": "application/json"}
    )
    [error] = errors_of(response)
    assert error["loc"] == "body" and error["msg"].startswith("not valid JSON")
