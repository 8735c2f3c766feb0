"""The life of a policy through the HTTP API: create → validate → promote → evaluate → rollback."""

from __future__ import annotations

from typing import Any

import httpx
import yaml

from tests.api.conftest import EXAMPLES, example, push_and_promote


def first_fixture(document: dict[str, Any]) -> dict[str, Any]:
    fixture: dict[str, Any] = next(f for f in document["fixtures"] if f["expect"].get("subtasks"))
    return fixture


async def test_create_validate_promote_evaluate_rollback(api: httpx.AsyncClient) -> None:
    v1, v2 = example("hotel_ops.yaml"), example("hotel_ops_v2.yaml")
    created = await api.post(
        "/snapshots",
        content=(EXAMPLES / "hotel_ops.yaml").read_bytes(),
        headers={"Content-Type": "application/yaml"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/snapshots/{v1['version']}"
    assert created.json()["rules_count"] == len(v1["rules"])
    assert (await api.post("/evaluate", json={})).status_code == 503  # nothing active yet

    run = await api.post("/validation/runs", json={"version": v1["version"]})
    assert run.status_code == 201 and run.json()["success"] is True
    assert run.json()["report"]["total"] == len(v1["fixtures"])
    promoted = await api.post("/promotions", json={"version": v1["version"], "reason": "go"})
    assert promoted.status_code == 201
    assert promoted.json()["to_version"] == v1["version"]

    fixture = first_fixture(v1)
    decision = (await api.post("/evaluate", json=fixture["input"])).json()
    assert decision["snapshot"] == v1["version"]
    assert decision["lane"] == "active" and decision["engine"] == "native"
    assert len(decision["decision_id"]) == 32 and decision["duration_ms"] >= 0
    expected_names = [s["name"] for s in fixture["expect"]["subtasks"]]
    assert [s["name"] for s in decision["subtasks"]] == expected_names

    await push_and_promote(api, v2)
    assert (await api.post("/evaluate", json={})).json()["snapshot"] == v2["version"]
    active = (await api.get("/snapshots/active")).json()
    assert active["version"] == v2["version"] and active["is_active"] is True

    rolled = await api.post("/promotions/rollback", json={"reason": "regression"})
    assert rolled.status_code == 201, rolled.text
    assert (rolled.json()["from_version"], rolled.json()["to_version"]) == (
        v2["version"],
        v1["version"],
    )
    assert (await api.post("/evaluate", json={})).json()["snapshot"] == v1["version"]

    trail = (await api.get("/promotions")).json()
    assert [(p["action"], p["to_version"]) for p in trail] == [
        ("rollback", v1["version"]),
        ("promote", v2["version"]),
        ("promote", v1["version"]),
    ]


async def test_a_stored_snapshot_reads_back_as_the_document_it_came_from(
    api: httpx.AsyncClient,
) -> None:
    document = example("hotel_ops.yaml")
    await api.post("/snapshots", json=document)
    body = (await api.get(f"/snapshots/{document['version']}")).json()
    assert [r["name"] for r in body["document"]["rules"]] == [r["name"] for r in document["rules"]]
    assert len(body["document"]["fixtures"]) == len(document["fixtures"])
    again = yaml.safe_load(yaml.safe_dump(body["document"]))
    again["version"] = document["version"] + "-copy"
    copy = await api.post("/snapshots", json=again)
    assert copy.status_code == 201, copy.text
    assert copy.json()["checksum"] == body["checksum"]


async def test_promotion_is_refused_without_a_passed_validation_unless_forced(
    api: httpx.AsyncClient,
) -> None:
    document = example("hotel_ops.yaml")
    await api.post("/snapshots", json=document)
    refused = await api.post("/promotions", json={"version": document["version"]})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await api.get("/snapshots/active")).status_code == 404
    forced = await api.post("/promotions", json={"version": document["version"], "force": True})
    assert forced.status_code == 201
    assert forced.json()["metrics"]["forced"] is True


async def test_simulate_runs_any_version_without_changing_the_active_one(
    api: httpx.AsyncClient,
) -> None:
    v1, v2 = example("hotel_ops.yaml"), example("hotel_ops_v2.yaml")
    await push_and_promote(api, v1)
    await api.post("/snapshots", json=v2)
    simulated = await api.post(f"/snapshots/{v2['version']}/simulate", json={"tags": ["vip"]})
    assert simulated.status_code == 200 and simulated.json()["snapshot"] == v2["version"]
    pinned = await api.post("/evaluate", params={"version": v2["version"]}, json={})
    assert pinned.json()["lane"] == "pinned" and pinned.json()["snapshot"] == v2["version"]
    assert (await api.post("/evaluate", json={})).json()["snapshot"] == v1["version"]


async def test_a_canary_lane_serves_its_snapshot_to_callers_in_its_buckets(
    api: httpx.AsyncClient,
) -> None:
    v1, v2 = example("hotel_ops.yaml"), example("hotel_ops_v2.yaml")
    await push_and_promote(api, v1)
    await api.post("/snapshots", json=v2)
    lane = await api.post(
        "/deployments",
        json={"version": v2["version"], "target": "router", "region": "eu-west", "percent": 100},
    )
    assert lane.status_code == 201, lane.text
    routed = await api.post(
        "/evaluate", params={"target": "router", "region": "eu-west", "subject": "g1"}, json={}
    )
    assert (routed.json()["lane"], routed.json()["snapshot"]) == ("canary", v2["version"])
    assert routed.json()["deployment_id"] == lane.json()["id"]
    other_region = await api.post(
        "/evaluate", params={"target": "router", "region": "us-east", "subject": "g1"}, json={}
    )
    assert other_region.json()["snapshot"] == v1["version"]
    closed = await api.patch(f"/deployments/{lane.json()['id']}", json={"percent": 0})
    assert closed.status_code == 200 and closed.json()["percent"] == 0
    after = await api.post(
        "/evaluate", params={"target": "router", "region": "eu-west", "subject": "g1"}, json={}
    )
    assert after.json()["lane"] == "active" and after.json()["snapshot"] == v1["version"]


async def test_batch_evaluates_each_item(api: httpx.AsyncClient) -> None:
    document = example("hotel_ops.yaml")
    await push_and_promote(api, document)
    inputs = [f["input"] for f in document["fixtures"][:3]]
    response = await api.post("/evaluate/batch", json={"items": inputs})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == len(inputs)
    for item, fact_set in zip(items, inputs, strict=True):
        single = (await api.post("/evaluate", json=fact_set)).json()
        assert item["subtasks"] == single["subtasks"] and item["dag"] == single["dag"]


async def test_devices_report_their_snapshot_and_coverage_counts_them(
    api: httpx.AsyncClient,
) -> None:
    v1 = example("hotel_ops.yaml")
    await push_and_promote(api, v1)
    lane = await api.post(
        "/deployments",
        json={"version": v1["version"], "target": "edge:door", "region": "eu-west", "percent": 100},
    )
    assert lane.status_code == 201
    for device, version in (("door:1", v1["version"]), ("door:2", None)):
        beat = await api.post(
            f"/devices/{device}/heartbeat",
            json={"device_type": "door", "region": "eu-west", "version": version},
        )
        assert beat.status_code == 204, beat.text
    devices = (await api.get("/devices", params={"device_type": "door"})).json()
    assert sorted(d["device_id"] for d in devices) == ["door:1", "door:2"]
    coverage = (await api.get("/deployments/coverage", params={"target": "edge:door"})).json()
    assert len(coverage) == 1
    assert (coverage[0]["devices_on_snapshot"], coverage[0]["devices_total"]) == (1, 2)


async def test_health_ready_metadata_and_metrics_tell_the_truth(api: httpx.AsyncClient) -> None:
    ready = await api.get("/health/ready")
    assert ready.status_code == 503
    await push_and_promote(api, example("hotel_ops.yaml"))
    assert (await api.get("/health/ready")).status_code == 200
    health = (await api.get("/health")).json()
    assert health["status"] == "ok" and health["db_connected"] is True
    # embedded mode: the in-process bus propagates, and health does not pretend it is Redis
    assert (health["redis_connected"], health["redis_expected"]) == (False, False)
    metadata = (await api.get("/metadata")).json()
    assert metadata["version"] == example("hotel_ops.yaml")["version"]
    assert metadata["propagation"] == "in-process"
    await api.post("/evaluate", json={})
    metrics = (await api.get("/metrics")).text
    assert "pkg_hotswap_count_total 1.0" in metrics
    assert 'pkg_evaluation_duration_seconds_count{engine="native"} 1.0' in metrics
    assert f'pkg_active_version{{version="{metadata["version"]}"}} 1.0' in metrics
