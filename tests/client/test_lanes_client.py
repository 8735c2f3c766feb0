"""The client's lanes and guards against a real server: a shadow lane counts how a candidate
differs, a guard refuses it and then watches a forced promotion; a canary lane serves callers;
devices report in."""

from __future__ import annotations

import pytest
from pkg_client import Guard, PKGError, PKGHttpClient

from bench.server import ServerProcess
from tests.client.conftest import ADMIN, VIP_ALLERGY, document, until

CANDIDATE = "lanes@2.0.0"


def test_a_shadow_lane_and_a_guarded_promotion(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=ADMIN) as pkg:
        pkg.push(document(CANDIDATE))
        assert pkg.validate(CANDIDATE)["success"] is True
        lane = pkg.open_deployment(CANDIDATE, target="router", percent=100, mode="shadow")
        assert (lane["mode"], lane["is_active"], lane["region"]) == ("shadow", True, "global")
        for index in range(25):
            served = pkg.evaluate(VIP_ALLERGY, target="router", subject=f"guest-{index}")
            assert served["lane"] == "active"  # a shadow lane changes no answer
        report = until(
            lambda: pkg.shadow_report(lane["id"]),
            lambda r: r["pending"] == 0 and r["totals"]["evaluated"] >= 25,
        )
        assert report["totals"]["different"] == 25 and report["totals"]["divergence"] == 1.0

        before: Guard = {"max_divergence": 0.02, "min_shadow_decisions": 20}
        with pytest.raises(PKGError) as refused:
            pkg.promote(CANDIDATE, guard=before)
        assert refused.value.status == 409 and "diverged" in refused.value.detail

        watched: Guard = {**before, "watch_s": 0.5, "max_error_rate": 0.5, "min_decisions": 1}
        promoted = pkg.promote(
            CANDIDATE, guard=watched, force=True, on_behalf_of="alice", reason="guarded"
        )
        assert promoted["on_behalf_of"] == "alice" and promoted["to_version"] == CANDIDATE
        assert promoted["guard"]["status"] == "watching"
        pkg.evaluate(VIP_ALLERGY)
        status = until(lambda: pkg.guard(promoted["id"]), lambda g: g["status"] != "watching")
        assert (status["status"], status["version"]) == ("passed", CANDIDATE)

        closed = pkg.close_deployment(lane["id"])
        assert closed["is_active"] is False
        assert lane["id"] not in [d["id"] for d in pkg.deployments()]
        assert lane["id"] in [d["id"] for d in pkg.deployments(active_only=False)]
        pkg.rollback(to_version="hotel-ops@1.0.0", reason="guarded test done")


def test_a_canary_lane_serves_its_share_and_devices_report_in(server: ServerProcess) -> None:
    version = "lanes@3.0.0"
    with PKGHttpClient(server.url, token=ADMIN) as pkg:
        pkg.push(document(version))
        lane = pkg.open_deployment(version, target="door", region="eu", percent=100)
        assert lane["mode"] == "canary"
        served = pkg.evaluate(VIP_ALLERGY, target="door", region="eu", subject="D-1")
        assert (served["lane"], served["snapshot"]) == ("canary", version)
        assert served.get("deployment_id") == lane["id"]

        moved = pkg.update_deployment(lane["id"], percent=0)
        assert moved["percent"] == 0
        back = pkg.evaluate(VIP_ALLERGY, target="door", region="eu", subject="D-1")
        assert back["lane"] == "active"
        assert [d["id"] for d in pkg.deployments(target="door", region="eu")] == [lane["id"]]

        assert pkg.heartbeat("door:D-1", device_type="door", region="eu", version=version) is None
        devices = pkg.devices(device_type="door", region="eu")
        assert [(d["device_id"], d["version"]) for d in devices] == [("door:D-1", version)]
        rows = until(
            lambda: pkg.coverage(target="door", region="eu"),
            lambda rows: bool(rows) and rows[0]["devices_on_snapshot"] == 1,
        )
        assert (rows[0]["deployment_id"], rows[0]["devices_total"]) == (lane["id"], 1)
        pkg.close_deployment(lane["id"])
