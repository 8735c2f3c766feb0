"""Bad input gets a clear problem+json that names the field, and loses nothing."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.api.conftest import READ_AUTH, example, push_and_promote

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_unknown_versions_are_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/snapshots/nope@0"), 404)
    assert_problem(await api.post("/evaluate", params={"version": "nope@0"}, json={}), 404)
    assert_problem(await api.post("/validation/runs", json={"version": "nope@0"}), 404)
    assert_problem(await api.post("/promotions", json={"version": "nope@0", "force": True}), 404)
    assert_problem(await api.get("/validation/runs/999999"), 404)
    assert_problem(await api.get(f"/validation/runs/{2**70}"), 422)  # no id that large exists


async def test_a_heartbeat_naming_an_unknown_snapshot_is_404_and_stores_nothing(
    api: httpx.AsyncClient,
) -> None:
    beat = await api.post(
        "/devices/door:9/heartbeat", json={"device_type": "door", "snapshot_id": 424242}
    )
    assert_problem(beat, 404)
    assert (await api.get("/devices")).json() == []


async def test_an_invalid_document_is_422_naming_rule_condition_and_field(
    api: httpx.AsyncClient,
) -> None:
    document = example("hotel_ops.yaml")
    broken = copy.deepcopy(document)
    broken["rules"][1]["conditions"][0]["op"] = "LIKE"
    body = assert_problem(await api.post("/snapshots", json=broken), 422)
    assert any(e["loc"] == "rules[1].conditions[0].op" for e in body["errors"])
    assert (await api.get(f"/snapshots/{document['version']}")).status_code == 404


async def test_a_document_that_is_not_yaml_or_json_is_422(api: httpx.AsyncClient) -> None:
    bad = await api.post(
        "/snapshots", content=b"version: [unclosed", headers={"Content-Type": "application/yaml"}
    )
    assert_problem(bad, 422)
    assert_problem(
        await api.post(
            "/snapshots", content=b"{nope", headers={"Content-Type": "application/json"}
        ),
        422,
    )


async def test_a_duplicate_version_is_409_and_the_first_one_stays(api: httpx.AsyncClient) -> None:
    document = example("hotel_ops.yaml")
    first = await api.post("/snapshots", json=document)
    assert first.status_code == 201
    changed = copy.deepcopy(document)
    changed["rules"] = changed["rules"][:1]
    assert_problem(await api.post("/snapshots", json=changed), 409)
    kept = (await api.get(f"/snapshots/{document['version']}")).json()
    assert kept["checksum"] == first.json()["checksum"]


async def test_only_a_never_active_snapshot_can_be_deleted(api: httpx.AsyncClient) -> None:
    v1, v2 = example("hotel_ops.yaml"), example("hotel_ops_v2.yaml")
    await push_and_promote(api, v1)
    await api.post("/snapshots", json=v2)
    assert_problem(await api.delete(f"/snapshots/{v1['version']}"), 409)
    assert (await api.delete(f"/snapshots/{v2['version']}")).status_code == 204
    assert_problem(await api.get(f"/snapshots/{v2['version']}"), 404)


async def test_tokens_are_required_and_roles_enforced(api: httpx.AsyncClient) -> None:
    document = example("hotel_ops.yaml")
    anonymous = await api.post("/snapshots", json=document, headers={"Authorization": ""})
    assert_problem(anonymous, 401)
    assert anonymous.headers["www-authenticate"] == "Bearer"
    wrong = await api.get("/snapshots", headers={"Authorization": "Bearer not-a-token"})
    assert_problem(wrong, 401)
    assert_problem(await api.post("/snapshots", json=document, headers=READ_AUTH), 403)
    assert (await api.get("/snapshots", headers=READ_AUTH)).status_code == 200
    assert (await api.get("/snapshots")).json() == []  # nothing was written by the refused calls


async def test_an_oversize_body_is_413(api: httpx.AsyncClient) -> None:
    huge = {"tags": ["x" * 1000] * 400}
    assert_problem(await api.post("/evaluate", json=huge), 413)


async def test_batches_over_the_limit_are_413(app_factory: Any) -> None:
    api = await app_factory(max_batch_items=2)
    await push_and_promote(api, example("hotel_ops.yaml"))
    for lean in (True, False):  # one implementation (app/api/evaluation.py), one answer
        client = api if lean else await app_factory(max_batch_items=2, lean_evaluate=False)
        too_many = await client.post("/evaluate/batch", json={"items": [{}, {}, {}]})
        assert_problem(too_many, 413)
        assert too_many.json()["detail"] == (
            "items: 3 fact sets; at most 2 per batch (PKG_MAX_BATCH_ITEMS): "
            "split it into batches of 2"
        )
        assert_problem(await client.post("/evaluate/batch", json={"items": []}), 422)


@pytest.mark.parametrize(
    ("facts", "loc"),
    [
        ([1, 2], "body"),
        ("vip", "body"),
        ({"tags": "vip"}, "tags"),
        ({"tags": [1]}, "tags[0]"),
        ({"signals": {"x": "high"}}, "signals.x"),
        ({"signals": {"x": True}}, "signals.x"),
        ({"context": []}, "context"),
    ],
)
async def test_bad_facts_are_422_naming_the_field(
    api: httpx.AsyncClient, facts: Any, loc: str
) -> None:
    await push_and_promote(api, example("hotel_ops.yaml"))
    body = assert_problem(await api.post("/evaluate", json=facts), 422)
    assert body["errors"][0]["loc"] == loc


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "routed"])
async def test_bad_facts_name_every_bad_field_at_once(app_factory: Any, lean: bool) -> None:
    api = await app_factory(lean_evaluate=lean)
    await push_and_promote(api, example("hotel_ops.yaml"))
    facts = {"tags": [1, "ok", {}], "signals": {"urgency": "high"}, "context": 3}
    body = assert_problem(await api.post("/evaluate", json=facts), 422)
    assert [e["loc"] for e in body["errors"]] == [
        "tags[0]",
        "tags[2]",
        "signals.urgency",
        "context",
    ]
    batch = {"items": [{"tags": ["ok"]}, {"tags": [1], "signals": {"u": None}}]}
    body = assert_problem(await api.post("/evaluate/batch", json=batch), 422)
    assert [e["loc"] for e in body["errors"]] == ["items[1].tags[0]", "items[1].signals.u"]


async def test_absurdly_nested_facts_are_422(app_factory: Any) -> None:
    api = await app_factory(max_facts_depth=8)
    await push_and_promote(api, example("hotel_ops.yaml"))
    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(20):
        cursor["a"] = {}
        cursor = cursor["a"]
    body = assert_problem(await api.post("/evaluate", json={"context": nested}), 422)
    assert "deep" in body["detail"] or "depth" in body["detail"]


async def test_request_validation_errors_name_the_field(api: httpx.AsyncClient) -> None:
    body = assert_problem(
        await api.post("/deployments", json={"version": "v", "target": "r", "percent": 101}), 422
    )
    assert any(e["loc"] == "percent" for e in body["errors"])
    body = assert_problem(await api.post("/promotions", json={}), 422)
    assert any(e["loc"] == "version" for e in body["errors"])
