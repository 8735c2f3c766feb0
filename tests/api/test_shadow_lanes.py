"""Shadow lanes: sampled requests are also decided by a candidate, after the answer, and the
answer never changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from app.domain.redaction import MASK
from app.services.rollout import bucket_of
from tests.api.conftest import EXAMPLES, example, push_and_promote
from tests.api.test_wasm_policy import wasm_document

VIP_ALLERGY: dict[str, Any] = json.loads((EXAMPLES / "facts" / "vip_allergy.json").read_text())
VOLATILE = ("decision_id", "duration_ms")
FAST = {"shadow_flush_interval_s": 0.05}


def stable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in VOLATILE}


async def open_lane(
    api: httpx.AsyncClient, version: str, percent: int, *, mode: str = "shadow"
) -> int:
    response = await api.post(
        "/deployments",
        json={"version": version, "target": "router", "percent": percent, "mode": mode},
    )
    assert response.status_code == 201, response.text
    assert response.json()["mode"] == mode
    lane_id: int = response.json()["id"]
    return lane_id


async def settled(
    api: httpx.AsyncClient, lane_id: int, *, evaluated: int | None = None, within: float = 30
) -> dict[str, Any]:
    """The lane's report once this replica has nothing queued and every evaluation counted
    (and, given `evaluated`, once that many have reached the fleet totals: flushes are
    periodic, so a read can fall between two of them)."""

    async def poll() -> dict[str, Any]:
        while True:
            report: dict[str, Any] = (await api.get(f"/deployments/{lane_id}/shadow")).json()
            totals = report["totals"]
            done = totals["identical"] + totals["different"] + totals["errors"]
            flushed = evaluated is None or totals["evaluated"] >= evaluated
            if report["pending"] == 0 and totals["evaluated"] == done and flushed:
                return report
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), within)


async def decide_all(
    api: httpx.AsyncClient, count: int, *, subject: Callable[[int], str | None]
) -> list[dict[str, Any]]:
    bodies = []
    for index in range(count):
        params = {"target": "router"}
        if (key := subject(index)) is not None:
            params["subject"] = key
        response = await api.post("/evaluate", params=params, json=VIP_ALLERGY)
        assert response.status_code == 200, response.text
        bodies.append(stable(response.json()))
    return bodies


async def test_a_lane_at_50_percent_shadows_half_of_2000_callers_and_changes_no_answer(
    app_factory: Callable[..., Any],
) -> None:
    api = await app_factory(**FAST)
    await push_and_promote(api, example("hotel_ops.yaml"))
    await api.post("/snapshots", json=example("hotel_ops_v2.yaml"))
    subjects = [f"guest-{i}" for i in range(2000)]
    without_lane = await decide_all(api, 2000, subject=subjects.__getitem__)

    lane_id = await open_lane(api, "hotel-ops@1.1.0", 50)
    with_lane = await decide_all(api, 2000, subject=subjects.__getitem__)
    in_lane = sum(bucket_of(lane_id, s) <= 50 for s in subjects)
    report = await settled(api, lane_id, evaluated=in_lane)

    assert with_lane == without_lane  # not one body changed
    assert {body["lane"] for body in with_lane} == {"active"}
    totals = report["totals"]
    assert totals["evaluated"] == in_lane
    assert 0.45 <= totals["evaluated"] / 2000 <= 0.55
    assert totals["different"] == totals["evaluated"] and totals["divergence"] == 1.0
    example_ = report["examples"][0]
    assert example_["kind"] == "different" and example_["input"]["context"] == MASK
    assert example_["input"]["tags"] == VIP_ALLERGY["tags"]
    assert example_["served"]["snapshot"] == "hotel-ops@1.0.0"
    assert example_["shadow"]["snapshot"] == "hotel-ops@1.1.0"
    assert [s["name"] for s in example_["diff"]["subtasks"]["added"]] == ["notify_duty_manager"]
    assert len(report["examples"]) == 10  # the newest N (PKG_SHADOW_EXAMPLES)


async def test_a_shadow_that_errors_is_counted_and_never_answers(
    app_factory: Callable[..., Any],
) -> None:
    api = await app_factory(**FAST)
    await push_and_promote(api, example("hotel_ops.yaml"))
    await api.post("/snapshots", json=wasm_document("broken@1", entrypoint="abort"))
    baseline = await decide_all(api, 5, subject=lambda i: f"s{i}")
    lane_id = await open_lane(api, "broken@1", 100)

    answers = await decide_all(api, 60, subject=lambda i: f"s{i % 5}")
    report = await settled(api, lane_id, evaluated=60)

    assert answers == baseline * 12
    assert report["totals"]["errors"] == report["totals"]["evaluated"] == 60
    assert report["examples"][0]["kind"] == "error"
    assert report["examples"][0]["shadow"]["rules"][0]["rule_id"] == "error"
    metrics = (await api.get("/metrics")).text
    assert f'pkg_shadow_decisions_total{{lane="{lane_id}",result="error"}} 60.0' in metrics


async def test_lane_mode_is_validated_and_patchable(api: httpx.AsyncClient) -> None:
    await push_and_promote(api, example("hotel_ops.yaml"))
    await api.post("/snapshots", json=example("hotel_ops_v2.yaml"))
    bad = await api.post(
        "/deployments",
        json={"version": "hotel-ops@1.1.0", "target": "router", "percent": 5, "mode": "dark"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == "mode"
    assert (await api.get("/deployments")).json() == []  # a refused write stores nothing

    lane_id = await open_lane(api, "hotel-ops@1.1.0", 100, mode="canary")
    routed = await api.post("/evaluate", params={"target": "router"}, json=VIP_ALLERGY)
    assert routed.json()["lane"] == "canary"
    patched = await api.patch(f"/deployments/{lane_id}", json={"mode": "shadow"})
    assert patched.status_code == 200 and patched.json()["mode"] == "shadow"
    answered = await api.post("/evaluate", params={"target": "router"}, json=VIP_ALLERGY)
    assert answered.json()["lane"] == "active" and answered.json()["deployment_id"] is None
    assert answered.json()["snapshot"] == "hotel-ops@1.0.0"
    bad_patch = await api.patch(f"/deployments/{lane_id}", json={"mode": 3})
    assert bad_patch.status_code == 422 and bad_patch.json()["errors"][0]["loc"] == "mode"


async def test_the_report_of_an_unknown_lane_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/deployments/999/shadow")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
