"""`pkg_client.PKGHttpClient` and `AsyncPKGHttpClient` against a real `pkgctl serve` process:
decisions, snapshots, fixtures, validation, comparison, promotion and rollback, health, the
errors they raise, and one method for every route the server offers."""

from __future__ import annotations

import gzip
import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from pkg_client import (
    AsyncPKGHttpClient,
    Decision,
    Fixture,
    PKGConnectionError,
    PKGError,
    PKGHttpClient,
)

import app.client
from bench.server import ServerProcess
from tests.client.conftest import ADMIN, READER, VIP_ALLERGY, document, until

# every route of the API and the method that calls it (a new route fails the test below)
ROUTES = {
    ("POST", "/evaluate"): "evaluate",
    ("POST", "/evaluate/batch"): "batch",
    ("GET", "/decisions/{decision_id}"): "decision",
    ("GET", "/decisions"): "decisions",
    ("POST", "/snapshots"): "push",  # and push_bundle
    ("GET", "/snapshots"): "snapshots",
    ("GET", "/snapshots/{version}"): "snapshot",
    ("GET", "/snapshots/active"): "active_snapshot",
    ("DELETE", "/snapshots/{version}"): "delete_snapshot",
    ("GET", "/snapshots/{version}/bundle"): "export_bundle",
    ("POST", "/snapshots/{version}/simulate"): "simulate",
    ("GET", "/snapshots/{version}/fixtures"): "fixtures",
    ("POST", "/snapshots/{version}/fixtures"): "add_fixtures",
    ("POST", "/snapshots/{a}/compare/{b}"): "compare",
    ("POST", "/snapshots/{version}/replay"): "replay",
    ("GET", "/snapshots/{version}/coverage"): "production_coverage",
    ("GET", "/snapshots/{a}/diff/{b}"): "diff",  # and diff_report
    ("POST", "/validation/runs"): "validate",
    ("GET", "/validation/runs"): "validation_runs",
    ("GET", "/validation/runs/{run_id}"): "validation_run",
    ("POST", "/promotions"): "promote",
    ("GET", "/promotions"): "promotions",
    ("POST", "/promotions/rollback"): "rollback",
    ("GET", "/promotions/verify"): "verify_audit",
    ("GET", "/promotions/{promotion_id}/guard"): "guard",
    ("GET", "/deployments"): "deployments",
    ("POST", "/deployments"): "open_deployment",
    ("PATCH", "/deployments/{deployment_id}"): "update_deployment",  # and close_deployment
    ("GET", "/deployments/coverage"): "coverage",
    ("GET", "/deployments/{deployment_id}/shadow"): "shadow_report",
    ("POST", "/devices/{device_id}/heartbeat"): "heartbeat",
    ("GET", "/devices"): "devices",
    ("GET", "/fleet"): "fleet",
    ("GET", "/health"): "health",
    ("GET", "/health/ready"): "ready",
    ("GET", "/metadata"): "metadata",
    ("GET", "/metrics"): "metrics",
    ("GET", "/schemas/policy.json"): "policy_schema",
}


def public(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")}


def test_every_route_of_the_server_has_a_method_on_both_clients(server: ServerProcess) -> None:
    schema = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    routes = {(m.upper(), path) for path, ops in schema["paths"].items() for m in ops}
    assert routes == ROUTES.keys()
    assert set(ROUTES.values()) <= public(PKGHttpClient) & public(AsyncPKGHttpClient)


def test_the_async_client_has_the_sync_clients_methods_as_coroutines() -> None:
    assert public(AsyncPKGHttpClient) - {"aclose"} == public(PKGHttpClient) - {"close"}
    for name in public(PKGHttpClient) - {"close"}:
        sync, async_ = getattr(PKGHttpClient, name), getattr(AsyncPKGHttpClient, name)
        assert inspect.iscoroutinefunction(async_), name
        assert inspect.signature(sync) == inspect.signature(async_), name
        assert sync.__doc__ == async_.__doc__, name


def test_app_client_is_the_pkg_client_package() -> None:
    assert app.client.PKGHttpClient is PKGHttpClient
    assert app.client.AsyncPKGHttpClient is AsyncPKGHttpClient
    assert app.client.PKGError is PKGError


def test_the_sync_client_drives_the_whole_lifecycle(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=ADMIN) as pkg:
        assert pkg.push(document("hotel-ops@2.0.0"))["version"] == "hotel-ops@2.0.0"
        assert pkg.validate("hotel-ops@2.0.0")["success"] is True
        promoted = pkg.promote("hotel-ops@2.0.0", reason="client test", on_behalf_of="alice")
        assert (promoted["to_version"], promoted["on_behalf_of"]) == ("hotel-ops@2.0.0", "alice")
        assert promoted["reason"] == "client test"
        decision: Decision = pkg.evaluate(VIP_ALLERGY, explain=True)
        assert decision["snapshot"] == "hotel-ops@2.0.0" and decision["lane"] == "active"
        assert "notify_duty_manager" in [s["name"] for s in decision["subtasks"]]
        explained = {rule["rule_name"]: rule["fired"] for rule in decision.get("explain") or []}
        assert explained["vip_allergy_guard"] is True
        pinned = pkg.evaluate(VIP_ALLERGY, version="hotel-ops@1.0.0")
        assert (pinned["lane"], pinned["snapshot"]) == ("pinned", "hotel-ops@1.0.0")
        decisions = pkg.batch([VIP_ALLERGY, {"tags": []}])
        assert [len(d["subtasks"]) > 0 for d in decisions] == [True, False]
        rolled = pkg.rollback(reason="client test", actor="bob")
        assert (rolled["to_version"], rolled["on_behalf_of"]) == ("hotel-ops@1.0.0", "bob")
        assert pkg.status()["metadata"]["version"] == "hotel-ops@1.0.0"
        trail = pkg.promotions(limit=2)
        assert [(row["action"], row["id"]) for row in trail] == [
            ("rollback", rolled["id"]),
            ("promote", promoted["id"]),
        ]
        assert pkg.promotions(version="hotel-ops@2.0.0")[0]["id"] == promoted["id"]
        audit = pkg.verify_audit()
        assert audit["ok"] is True and audit["rows"] >= 3 and audit["first_break"] is None


async def test_the_async_client_drives_the_whole_lifecycle(server: ServerProcess) -> None:
    async with AsyncPKGHttpClient(server.url, token=ADMIN) as pkg:
        await pkg.push(document("hotel-ops@3.0.0"))
        assert (await pkg.validate("hotel-ops@3.0.0"))["success"] is True
        await pkg.promote("hotel-ops@3.0.0", reason="async client test")
        assert (await pkg.evaluate(VIP_ALLERGY))["snapshot"] == "hotel-ops@3.0.0"
        assert len(await pkg.batch([VIP_ALLERGY] * 3)) == 3
        assert (await pkg.snapshot("hotel-ops@3.0.0"))["is_active"] is True
        rolled = await pkg.rollback(to_version="hotel-ops@1.0.0", reason="async client test")
        assert rolled["to_version"] == "hotel-ops@1.0.0"
        assert (await pkg.status())["health"]["active_version"] == "hotel-ops@1.0.0"
        assert await pkg.ready() is True


def test_snapshots_fixtures_and_validation_runs(server: ServerProcess) -> None:
    version = "hotel-ops@4.0.0"
    source = document(version)
    with PKGHttpClient(server.url, token=ADMIN) as pkg:
        created = pkg.push(yaml.safe_dump(source))  # the YAML text, as a user writes it
        assert (created["version"], created["is_active"]) == (version, False)
        assert created["document"]["rules"][0]["name"] == source["rules"][0]["name"]
        listed = {s["version"]: s for s in pkg.snapshots(limit=500)}
        assert listed[version]["checksum"] == created["checksum"]
        assert pkg.snapshot(version)["rules_count"] == len(source["rules"])
        assert pkg.active_snapshot()["version"] == "hotel-ops@1.0.0"

        stored = pkg.fixtures(version)
        assert [f["name"] for f in stored] == [f["name"] for f in source["fixtures"]]
        extra: Fixture = {"name": "no tags", "input": {"tags": []}, "expect": {"subtasks": []}}
        assert pkg.add_fixtures(version, [extra])[-1] == extra
        assert len(pkg.fixtures(version)) == len(stored) + 1

        simulated = pkg.simulate(version, VIP_ALLERGY)
        assert simulated["snapshot"] == version
        assert "notify_duty_manager" in [s["name"] for s in simulated["subtasks"]]

        run = pkg.validate(version)
        assert run["success"] is True and run["report"] is not None
        assert run["report"]["total"] == len(stored) + 1 and run["report"]["failures"] == []
        assert pkg.validation_run(run["id"]) == run
        assert run["id"] in [r["id"] for r in pkg.validation_runs(version=version)]


def test_a_snapshot_is_exported_deleted_and_imported_back(server: ServerProcess) -> None:
    version = "hotel-ops@5.0.0"
    with PKGHttpClient(server.url, token=ADMIN) as pkg:
        created = pkg.push(document(version))
        bundle = pkg.export_bundle(version)
        assert gzip.decompress(bundle)  # a .tar.gz
        assert pkg.delete_snapshot(version) is None
        with pytest.raises(PKGError) as gone:
            pkg.snapshot(version)
        assert gone.value.status == 404
        restored = pkg.push_bundle(bundle)
        assert (restored["version"], restored["checksum"]) == (version, created["checksum"])


def test_compare_on_facts_and_on_fixtures(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=READER) as pkg:
        on_facts = pkg.compare("hotel-ops@1.0.0", "hotel-ops@2.0.0", items=[VIP_ALLERGY, {}])
        assert [item["differs"] for item in on_facts["items"]] == [True, False]
        added = on_facts["items"][0]["subtasks"]["added"]
        assert [s["name"] for s in added] == ["notify_duty_manager"]
        assert on_facts["totals"]["different"] == 1
        a, b = "hotel-ops@1.0.0", "hotel-ops@2.0.0"
        on_fixtures = pkg.compare(a, b, fixtures_of=a)
        assert all(item["name"] for item in on_fixtures["items"])
        assert on_fixtures["totals"]["different"] >= 1
        changed = pkg.diff(a, b)
        assert changed and changed != pkg.diff(a, a)
        assert b in pkg.diff_report(a, b, format="markdown")
        assert isinstance(pkg.production_coverage(a, since="1h"), dict)


def test_decisions_are_read_back_from_the_log(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=ADMIN) as pkg:
        before = datetime.now(UTC) - timedelta(seconds=1)
        answered = pkg.evaluate(VIP_ALLERGY, subject="guest-log")
        decision_id = answered["decision_id"]

        def logged() -> bool:
            try:
                return pkg.decision(decision_id)["decision_id"] == decision_id
            except PKGError as exc:
                if exc.status != 404:
                    raise
                return False

        until(logged, bool)
        record = pkg.decision(decision_id)
        assert record["version"] == answered["snapshot"] and record["input"] == VIP_ALLERGY
        recent = pkg.decisions(since=before, limit=500)
        assert decision_id in [r["decision_id"] for r in recent]
        pinned = pkg.decisions(version="hotel-ops@1.0.0")
        assert pinned and all(r["version"] == "hotel-ops@1.0.0" for r in pinned)
        replayed = pkg.replay("hotel-ops@2.0.0", since="1h")
        assert replayed["version"] == "hotel-ops@2.0.0" and replayed["records"] >= 1


def test_health_metadata_metrics_and_the_policy_schema(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=READER) as pkg:
        health = pkg.health()
        assert (health["status"], health["healthy"]) == ("ok", True)
        assert pkg.ready() is True
        assert pkg.metadata()["env"] == "prod"
        assert "pkg_evaluation_duration_seconds" in pkg.metrics()
        assert "rules" in pkg.policy_schema()["properties"]


def test_a_server_with_no_active_snapshot_is_not_ready(tmp_path: Path) -> None:
    empty = ServerProcess.embedded(tmp_path).start(wait_ready=False)
    try:
        empty.wait(path="/health")
        with PKGHttpClient(empty.url) as pkg:
            assert pkg.ready() is False
            assert pkg.health()["active_version"] is None
    finally:
        empty.stop()


def test_an_invalid_document_raises_with_the_fields(server: ServerProcess) -> None:
    bad = {
        "version": "bad@1",
        "rules": [{"name": "a", "conditions": [{"type": "TAG", "op": "LIKE"}]}],
    }
    with PKGHttpClient(server.url, token=ADMIN) as pkg, pytest.raises(PKGError) as caught:
        pkg.push(bad)
    assert caught.value.status == 422
    assert "rules[0].conditions[0].op" in [e["loc"] for e in caught.value.errors]
    assert caught.value.problem["status"] == 422 and caught.value.instance == "/snapshots"


def test_a_missing_snapshot_raises_the_problem(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=READER) as pkg, pytest.raises(PKGError) as caught:
        pkg.snapshot("no-such@1")
    problem = caught.value
    assert (problem.status, problem.title) == (404, "Not Found")
    assert problem.detail == "snapshot no-such@1 does not exist"
    assert str(problem) == "404 Not Found: snapshot no-such@1 does not exist"
    assert problem.errors == []


def test_an_evaluator_token_reads_but_cannot_write(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=READER) as pkg:
        assert pkg.status()["metadata"]["version"] == "hotel-ops@1.0.0"
        assert pkg.evaluate(VIP_ALLERGY)["rules"]
        with pytest.raises(PKGError) as caught:
            pkg.promote("hotel-ops@1.0.0")
    assert caught.value.status == 403


def test_on_behalf_of_and_its_older_name_cannot_disagree() -> None:
    with PKGHttpClient("http://127.0.0.1:9") as pkg, pytest.raises(TypeError):
        pkg.promote("v@1", on_behalf_of="alice", actor="bob")


def test_an_unreachable_server_raises_a_connection_error() -> None:
    with PKGHttpClient("http://127.0.0.1:9", timeout=2) as pkg, pytest.raises(PKGConnectionError):
        pkg.health()
