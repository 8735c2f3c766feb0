"""POST /snapshots/{a}/compare/{b}: the same facts on two stored versions."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.conftest import EXAMPLES, READ_AUTH, example

VIP_ALLERGY: dict[str, Any] = json.loads((EXAMPLES / "facts" / "vip_allergy.json").read_text())
QUIET: dict[str, Any] = {"tags": [], "signals": {}}


async def push(api: httpx.AsyncClient, document: dict[str, Any]) -> None:
    response = await api.post("/snapshots", json=document)
    assert response.status_code == 201, response.text


async def test_v2_adds_the_duty_manager_to_vip_allergies_and_nothing_else(
    api: httpx.AsyncClient,
) -> None:
    await push(api, example("hotel_ops.yaml"))
    await push(api, example("hotel_ops_v2.yaml"))

    response = await api.post(
        "/snapshots/hotel-ops@1.0.0/compare/hotel-ops@1.1.0", json={"items": [VIP_ALLERGY, QUIET]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    vip, quiet = body["items"]
    assert vip["differs"] is True and quiet["differs"] is False
    assert [s["name"] for s in vip["subtasks"]["added"]] == ["notify_duty_manager"]
    assert vip["dag"]["added"] == [
        {"from": "assign_chef", "to": "notify_duty_manager", "type": "sequential"}
    ]
    assert vip["subtasks"]["removed"] == vip["subtasks"]["changed"] == []
    assert body["totals"]["inputs"] == 2 and body["totals"]["different"] == 1
    assert body["totals"]["subtasks_added"] == 1 and body["totals"]["edges_added"] == 1


async def test_a_copy_under_another_version_never_differs_on_its_fixtures(
    api: httpx.AsyncClient,
) -> None:
    await push(api, example("hotel_ops.yaml"))
    copy = example("hotel_ops.yaml") | {"version": "hotel-ops@copy"}
    await push(api, copy)

    response = await api.post(
        "/snapshots/hotel-ops@1.0.0/compare/hotel-ops@copy", json={"fixtures_of": "hotel-ops@1.0.0"}
    )

    body = response.json()
    assert response.status_code == 200, response.text
    assert body["totals"]["inputs"] == len(copy["fixtures"]) and body["totals"]["different"] == 0
    assert {item["name"] for item in body["items"]} == {f["name"] for f in copy["fixtures"]}


async def test_a_bare_list_of_facts_is_accepted(api: httpx.AsyncClient) -> None:
    await push(api, example("hotel_ops.yaml"))
    response = await api.post("/snapshots/hotel-ops@1.0.0/compare/hotel-ops@1.0.0", json=[QUIET])
    assert response.status_code == 200 and response.json()["totals"]["identical"] == 1


async def test_bad_comparisons_are_problems_naming_the_field(api: httpx.AsyncClient) -> None:
    await push(api, example("hotel_ops.yaml"))
    url = "/snapshots/hotel-ops@1.0.0/compare/hotel-ops@1.0.0"

    unknown = await api.post("/snapshots/hotel-ops@1.0.0/compare/nope@1", json=[QUIET])
    both = await api.post(url, json={"items": [QUIET], "fixtures_of": "hotel-ops@1.0.0"})
    bad_facts = await api.post(url, json={"items": [QUIET, {"tags": [1]}]})
    too_many = await api.post(url, json={"items": [QUIET] * 101})

    assert unknown.status_code == 404
    assert both.status_code == 422 and "exactly one" in both.text
    assert bad_facts.status_code == 422
    assert bad_facts.json()["errors"][0]["loc"] == "items[1].tags[0]"
    assert too_many.status_code == 413 and "items" in too_many.json()["detail"]
    for response in (unknown, both, bad_facts, too_many):
        assert response.headers["content-type"] == "application/problem+json"


async def test_an_evaluator_token_may_compare(api: httpx.AsyncClient) -> None:
    await push(api, example("hotel_ops.yaml"))
    response = await api.post(
        "/snapshots/hotel-ops@1.0.0/compare/hotel-ops@1.0.0", json=[QUIET], headers=READ_AUTH
    )
    assert response.status_code == 200
