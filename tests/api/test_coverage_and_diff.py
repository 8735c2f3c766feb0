"""Issue 25: fixture coverage stored with a validation run, production coverage counted on both
/evaluate transports and added up over replicas, and the static diff of two versions; on
SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.conftest import EXAMPLES, example, push_and_promote
from tests.api.test_wasm_policy import wasm_document

VIP_ALLERGY: dict[str, Any] = json.loads((EXAMPLES / "facts/vip_allergy.json").read_text())


def small_policy(version: str) -> dict[str, Any]:
    """Two rules: `vip` fires for VIPs, `late` (two conditions) for late night arrivals."""
    return {
        "version": version,
        "subtask_types": {"escalate": {"default_params": {"level": "normal"}}},
        "rules": [
            {
                "name": "vip",
                "conditions": [{"type": "TAG", "key": "vip", "op": "EXISTS"}],
                "emissions": [{"subtask_type": "escalate", "params": {"level": "high"}}],
            },
            {
                "name": "late",
                "conditions": [
                    {"type": "SIGNAL", "key": "hour", "op": ">=", "value": 22},
                    {"type": "FACT", "key": "context.kind", "op": "=", "value": "arrival"},
                ],
                "emissions": [{"subtask_type": "escalate", "name": "late_escalate"}],
            },
        ],
        "fixtures": [
            {
                "name": "vip",
                "input": {"tags": ["vip"]},
                "expect": {"subtasks": [{"name": "escalate"}]},
            },
            {"name": "nobody", "input": {"signals": {"hour": 23}}, "expect": {"subtasks": []}},
        ],
    }


# ------------------------------------------------------------------------------ validation
async def test_a_validation_run_stores_its_fixture_coverage(api: httpx.AsyncClient) -> None:
    assert (await api.post("/snapshots", json=small_policy("cov@1"))).status_code == 201
    run = await api.post("/validation/runs", json={"version": "cov@1"})
    assert run.status_code == 201, run.text
    coverage = run.json()["coverage"]
    assert coverage["rules_covered"] == 1 and coverage["rules_total"] == 2
    # `hour >= 22` held (nobody) and was false (vip); `context.kind` never held
    assert coverage["conditions_covered"] == 2 and coverage["conditions_total"] == 3
    assert coverage["percent"] == 60.0
    assert coverage["uncovered_rules"] == ["late"]
    assert coverage["uncovered_conditions"] == ['late[1]: FACT context.kind = "arrival"']

    stored = await api.get(f"/validation/runs/{run.json()['id']}")
    assert stored.json()["coverage"] == coverage
    listed = await api.get("/validation/runs", params={"version": "cov@1"})
    assert listed.json()[0]["coverage"]["percent"] == 60.0


async def test_a_wasm_validation_run_says_coverage_is_not_available(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.post("/snapshots", json=wasm_document("wcov@1"))).status_code == 201
    run = await api.post("/validation/runs", json={"version": "wcov@1"})
    coverage = run.json()["coverage"]
    assert coverage["available"] is False and coverage["percent"] is None
    assert coverage["reason"].startswith("not available for wasm")
    assert coverage["fired"] == [{"rule": "vip_escalation", "fired_by": ["vip escalates"]}]


# ------------------------------------------------------------------------------ production
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "fastapi"])
async def test_both_evaluate_transports_count_fired_rules(
    app_factory: Callable[..., Any], lean: bool
) -> None:
    api = await app_factory(lean_evaluate=lean)
    await push_and_promote(api, example("hotel_ops.yaml"))
    for _ in range(3):
        assert (await api.post("/evaluate", json=VIP_ALLERGY)).status_code == 200
    batch = await api.post("/evaluate/batch", json={"items": [VIP_ALLERGY, {"tags": []}]})
    assert batch.status_code == 200, batch.text

    report = await api.get("/snapshots/hotel-ops@1.0.0/coverage", params={"since": "1h"})
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["decisions"] == 5 and body["errors"] == 0
    fired = {rule["rule_name"]: rule["fired"] for rule in body["rules"]}
    assert fired["vip_allergy_guard"] == 4
    assert fired["honeymoon_welcome"] == 0
    assert "honeymoon_welcome" in body["never_fired"]
    assert "vip_allergy_guard" not in body["never_fired"]
    assert [r["replica"].split("#")[0] for r in body["replicas"]] == ["api-test"]


async def test_production_coverage_adds_up_two_replicas_counts(
    app_factory: Callable[..., Any],
) -> None:
    first = await app_factory(instance_id="replica-a")
    second = await app_factory(instance_id="replica-b")
    await push_and_promote(first, example("hotel_ops.yaml"))
    await second.post("/promotions", json={"version": "hotel-ops@1.0.0", "force": True})
    for _ in range(2):
        assert (await first.post("/evaluate", json=VIP_ALLERGY)).json()["snapshot"]
    assert (
        await second.post("/evaluate", json=VIP_ALLERGY, params={"version": "hotel-ops@1.0.0"})
    ).status_code == 200
    # each replica flushes its own counts before it answers; read through both
    await first.get("/snapshots/hotel-ops@1.0.0/coverage")
    body = (await second.get("/snapshots/hotel-ops@1.0.0/coverage")).json()
    assert body["decisions"] == 3
    by_replica = {r["replica"].split("#")[0]: r["decisions"] for r in body["replicas"]}
    assert by_replica == {"replica-a": 2, "replica-b": 1}
    fired = {rule["rule_name"]: rule["fired"] for rule in body["rules"]}
    assert fired["vip_allergy_guard"] == 3


async def test_production_coverage_refuses_a_bad_window_naming_the_field(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.post("/snapshots", json=small_policy("cov@2"))).status_code == 201
    response = await api.get("/snapshots/cov@2/coverage", params={"since": "yesterday"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "since" in response.text
    missing = await api.get("/snapshots/nope@1/coverage")
    assert missing.status_code == 404


async def test_production_coverage_of_a_wasm_version_has_no_never_fired_list(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.post("/snapshots", json=wasm_document("wprod@1"))).status_code == 201
    decided = await api.post("/evaluate", json={"tags": ["vip"]}, params={"version": "wprod@1"})
    assert decided.status_code == 200, decided.text
    body = (await api.get("/snapshots/wprod@1/coverage")).json()
    assert body["never_fired"] is None and "not available for wasm" in body["note"]
    assert [(r["rule_name"], r["fired"]) for r in body["rules"]] == [("vip_escalation", 1)]


# ------------------------------------------------------------------------------ diff
async def test_diff_names_rules_subtask_types_and_fixtures_that_changed(
    api: httpx.AsyncClient,
) -> None:
    before = small_policy("diff@1")
    after = copy.deepcopy(before)
    after["version"] = "diff@2"
    after["rules"][0]["priority"] = 5
    after["rules"][1]["conditions"][0]["value"] = 21
    after["rules"].append(
        {
            "name": "noise",
            "conditions": [{"type": "TAG", "key": "noise", "op": "EXISTS"}],
            "emissions": [{"subtask_type": "quiet"}],
        }
    )
    after["subtask_types"]["quiet"] = {"default_params": {}}
    after["fixtures"][1]["expect"] = {"subtasks": [{"name": "late_escalate"}]}
    after["fixtures"][1]["input"] = {"signals": {"hour": 21}, "context": {"kind": "arrival"}}
    for document in (before, after):
        assert (await api.post("/snapshots", json=document)).status_code == 201

    response = await api.get("/snapshots/diff@1/diff/diff@2")
    assert response.status_code == 200, response.text
    diff = response.json()
    assert diff["from"] == "diff@1" and diff["to"] == "diff@2" and not diff["identical"]
    assert [rule["rule_name"] for rule in diff["rules"]["added"]] == ["noise"]
    changed = {rule["rule_name"]: rule for rule in diff["rules"]["changed"]}
    assert changed["vip"]["priority"] == {"from": 100, "to": 5}
    assert changed["late"]["conditions"] == {
        "added": ["SIGNAL hour >= 21"],
        "removed": ["SIGNAL hour >= 22"],
        "reordered": False,
    }
    assert diff["subtask_types"]["added"] == [{"name": "quiet", "default_params": {}}]
    assert diff["fixtures"]["changed"][0]["name"] == "nobody"

    markdown = await api.get("/snapshots/diff@1/diff/diff@2", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "### Policy diff: `diff@1` → `diff@2`" in markdown.text
    assert "added condition `SIGNAL hour >= 21`" in markdown.text
    same = (await api.get("/snapshots/diff@1/diff/diff@1")).json()
    assert same["identical"] is True


async def test_diff_of_wasm_versions_shows_module_and_data_changes(
    api: httpx.AsyncClient,
) -> None:
    before, after = wasm_document("wdiff@1"), wasm_document("wdiff@2")
    before["wasm"]["data"] = {"limits": {"max": 3}, "regions": ["eu"]}  # type: ignore[index]
    after["wasm"]["data"] = {"limits": {"max": 5}, "owner": "ops"}  # type: ignore[index]
    for document in (before, after):
        assert (await api.post("/snapshots", json=document)).status_code == 201
    diff = (await api.get("/snapshots/wdiff@1/diff/wdiff@2")).json()
    wasm = diff["wasm"]
    assert wasm["module_checksum"] is None  # the same module
    assert wasm["data"] == [
        {"op": "replace", "path": "/limits/max", "from": 3, "value": 5},
        {"op": "add", "path": "/owner", "value": "ops"},
        {"op": "remove", "path": "/regions", "from": ["eu"]},
    ]
    assert diff["checksum"] is not None and not diff["identical"]


async def test_diff_of_an_unknown_version_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.post("/snapshots", json=small_policy("d404@1"))).status_code == 201
    response = await api.get("/snapshots/d404@1/diff/missing@9")
    assert response.status_code == 404
    assert "missing@9" in response.json()["detail"]
    bad = await api.get("/snapshots/d404@1/diff/d404@1", params={"format": "html"})
    assert bad.status_code == 422 and "format" in bad.text
