"""Shadow lanes and watched promotions across two real replicas on PostgreSQL and Redis."""

from __future__ import annotations

import json
import threading
from functools import partial
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.server import ROOT
from tests.api.test_wasm_policy import wasm_document
from tests.integration.fleet.conftest import (
    HEADERS,
    RECONCILE_S,
    SETTLE_S,
    Fleet,
    Replica,
    document,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
VIP_ALLERGY: dict[str, Any] = json.loads((ROOT / "examples/facts/vip_allergy.json").read_text())


def shadow_report(replica: Replica, lane_id: int) -> dict[str, Any]:
    body: dict[str, Any] = replica.get(f"/deployments/{lane_id}/shadow").json()
    return body


def serves(replica: Replica, version: str) -> bool:
    return replica.serves() == version


def has_served(replica: Replica, version: str) -> bool:
    """Whether `replica` serves or has served `version` (its gauge stays, at 0, after a swap)."""
    families = text_string_to_metric_families(replica.get("/metrics").text)
    return any(
        sample.name == "pkg_active_version" and sample.labels.get("version") == version
        for family in families
        for sample in family.samples
    )


def decide(replica: Replica, count: int, *, prefix: str) -> None:
    for index in range(count):
        response = replica.post(
            "/evaluate",
            params={"target": "router", "subject": f"{prefix}-{index}"},
            json=VIP_ALLERGY,
        )
        assert response.status_code == 200, response.text
        assert response.json()["lane"] == "active"


def test_shadow_totals_add_up_across_both_replicas(fleet: Fleet) -> None:
    created = fleet.a.post("/snapshots", json=document("shadow-candidate@2"))
    assert created.status_code == 201, created.text
    lane = fleet.a.post(
        "/deployments",
        json={
            "version": "shadow-candidate@2",
            "target": "router",
            "percent": 100,
            "mode": "shadow",
        },
    )
    assert lane.status_code == 201, lane.text
    lane_id = lane.json()["id"]
    wait_until(
        lambda: any(d["id"] == lane_id for d in fleet.b.get("/deployments").json()),
        within=SETTLE_S,
    )

    decide(fleet.a, 120, prefix="a")
    decide(fleet.b, 80, prefix="b")

    def fleet_counted() -> bool:
        return bool(shadow_report(fleet.b, lane_id)["totals"]["evaluated"] == 200)

    wait_until(fleet_counted, within=10)
    for replica in (fleet.a, fleet.b):
        report = shadow_report(replica, lane_id)
        assert report["totals"]["different"] == 200 and report["totals"]["divergence"] == 1.0
        per_replica = sorted(r["evaluated"] for r in report["replicas"])
        assert per_replica == [80, 120]
        assert len(report["examples"]) == 10
    closed = httpx.patch(
        f"{fleet.a.url}/deployments/{lane_id}", json={"is_active": False}, headers=HEADERS
    )
    assert closed.status_code == 200, closed.text


def test_a_watched_promotion_that_errors_is_rolled_back_once_by_one_replica(fleet: Fleet) -> None:
    before = fleet.a.get("/snapshots/active").json()["version"]
    created = fleet.a.post("/snapshots", json=wasm_document("fleet-broken@1", entrypoint="abort"))
    assert created.status_code == 201, created.text
    failures: list[str] = []
    stop = threading.Event()

    def load(replica: Replica) -> None:
        while not stop.is_set():
            response = replica.post("/evaluate", json=VIP_ALLERGY)
            if response.status_code != 200:
                failures.append(f"{replica.name}: {response.status_code} {response.text[:200]}")

    workers = [threading.Thread(target=load, args=(r,)) for r in (fleet.a, fleet.b)]
    for worker in workers:
        worker.start()
    try:
        guard = {"watch_s": 120, "max_error_rate": 0.01, "min_decisions": 10}
        promoted = fleet.a.post(
            "/promotions", json={"version": "fleet-broken@1", "force": True, "guard": guard}
        )
        assert promoted.status_code == 201, promoted.text
        promotion_id = promoted.json()["id"]
        # b may serve it only until the guard rolls back: look for the swap, not the moment
        wait_until(partial(has_served, fleet.b, "fleet-broken@1"), within=RECONCILE_S + SETTLE_S)
        for replica in (fleet.a, fleet.b):
            wait_until(partial(serves, replica, before), within=20)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

    assert failures == []
    trail = fleet.a.get("/promotions", params={"limit": 5}).json()
    after = [row for row in trail if row["id"] > promotion_id]
    assert [(r["action"], r["actor"], r["to_version"]) for r in after] == [
        ("rollback", "pkg-guard", before)
    ]
    figures = after[0]["metrics"]
    assert figures["error_rate"] > 0.01 and figures["decisions"] >= 10
    guard_state = fleet.a.get(f"/promotions/{promotion_id}/guard").json()
    assert guard_state["status"] == "rolled_back"
    decider = fleet.a if guard_state["decided_by"].startswith("a#") else fleet.b
    other = fleet.b if decider is fleet.a else fleet.a
    assert other.metadata()["last_activation_source"] == "redis"  # the rollback was published
