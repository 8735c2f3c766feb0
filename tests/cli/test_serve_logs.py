"""A real `pkgctl serve`: its standard error is one JSON object per line, uvicorn's lines
included and Alembic's start-up chatter left out; it says where it listens and when it stops;
one access line per request on both transports (a refused token too), an audit event per
promotion; no token or fact value reaches the log; `pkgctl decisions` prints what it decided,
naming the caller."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from app.entrypoints.cli import cli
from bench.server import ROOT, ServerProcess

TOKEN = "serve-logs-admin-token"
WRONG = "serve-logs-wrong-token"
SECRET = "guest-name-that-must-not-be-logged"
V1, V2 = "hotel-ops@1.0.0", "hotel-ops@1.1.0"


def test_serve_logs_json_lines_and_pkgctl_decisions_reads_back(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp_path / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "PKG_ADMIN_TOKENS": f"ops:{TOKEN}",
            "PKG_LOG_LEVEL": "INFO",
            "PKG_LOG_JSON": "true",
            "PKG_DECISION_LOG": "database",
            "PKG_DECISION_LOG_MASK": "input.context.guest_name",
        },
        log_path=log_path,
    ).start()
    admin = {"Authorization": f"Bearer {TOKEN}"}
    try:
        decision = httpx.post(
            server.url + "/evaluate",
            json={"tags": ["vip"], "context": {"guest_name": SECRET}},
            headers=admin,
        ).json()
        wrong = {"Authorization": f"Bearer {WRONG}", "X-Request-ID": "refused-1"}
        refused = httpx.post(server.url + "/evaluate", json={"tags": [SECRET]}, headers=wrong)
        refused_routed = httpx.get(server.url + "/snapshots", headers=wrong)
        read = httpx.get(f"{server.url}/snapshots/{V1}", headers=admin)
        again = httpx.post(server.url + "/promotions", json={"version": V1}, headers=admin)
        v2 = (ROOT / "examples" / "hotel_ops_v2.yaml").read_bytes()
        yaml_body = {**admin, "Content-Type": "application/yaml"}
        assert httpx.post(server.url + "/snapshots", content=v2, headers=yaml_body).is_success
        promoted = httpx.post(
            server.url + "/promotions",
            json={"version": V2, "reason": "audit me", "actor": "alice", "force": True},
            headers=admin,
        )
        env = {"PKG_URL": server.url, "PKG_TOKEN": TOKEN}
        one = CliRunner().invoke(cli, ["decisions", decision["decision_id"]], env=env)
        listed = CliRunner().invoke(cli, ["decisions", "--limit", "5"], env=env)
    finally:
        server.stop()

    assert (refused.status_code, refused_routed.status_code) == (401, 401)
    assert (read.status_code, again.status_code, promoted.status_code) == (200, 409, 201)
    assert one.exit_code == 0, one.output
    record = json.loads(one.output)
    assert record["input"]["context"]["guest_name"] == "**REDACTED**"
    assert (record["caller"], record["role"]) == ("ops", "admin")  # the token's name, not it
    assert decision["decision_id"] in listed.output and SECRET not in listed.output
    lines = log_path.read_text().splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    loggers = {str(e.get("logger", "")).split(".")[0] for e in events}
    assert "uvicorn" in loggers
    assert "alembic" not in loggers  # its INFO chatter is left out of PKG's start-up
    assert all("timestamp" not in e and "time" in e for e in events)  # one time field

    access = [e for e in events if e["event"] == "http_request"]
    lean_refusal = next(e for e in access if e["request_id"] == "refused-1")
    assert lean_refusal | {"duration_ms": 0} == {
        "event": "http_request",
        "level": "info",
        "time": lean_refusal["time"],
        "method": "POST",
        "route": "/evaluate",
        "status": 401,
        "duration_ms": 0,
        "caller": None,
        "request_id": "refused-1",
    }
    assert any(e["route"] == "/snapshots" and e["status"] == 401 for e in access)
    routed = next(e for e in access if e["route"] == "/snapshots/{version}")
    assert (routed["method"], routed["status"], routed["caller"]) == ("GET", 200, "ops")
    assert routed["request_id"] == read.headers["x-request-id"]
    decided = next(e for e in access if e["route"] == "/evaluate" and e["status"] == 200)
    assert decided["caller"] == "ops" and decided["duration_ms"] >= 0

    seeded, refusal, audit = [e for e in events if e["event"] == "audit"]
    assert (seeded["actor"], seeded["action"], seeded["version"]) == ("bootstrap", "promote", V1)
    assert (refusal["level"], refusal["action"], refusal["outcome"]) == (
        "warning",
        "promote",
        "refused",
    )
    assert (refusal["actor"], refusal["version"]) == ("ops", V1)
    assert "already active" in refusal["error"]
    assert {k: audit[k] for k in ("action", "outcome", "actor", "on_behalf_of", "reason")} == {
        "action": "promote",
        "outcome": "done",
        "actor": "ops",
        "on_behalf_of": "alice",
        "reason": "audit me",
    }
    assert (audit["env"], audit["version"], audit["from_version"]) == ("prod", V2, V1)
    assert audit["force"] is True and audit["promotion_id"] == promoted.json()["id"]
    promotions = [e for e in access if e["route"] == "/promotions"]
    assert [e["status"] for e in promotions] == [409, 201]
    assert audit["request_id"] == promotions[1]["request_id"]
    listening = next(e for e in events if e["event"] == "pkg_listening")
    assert (listening["host"], listening["port"]) == ("127.0.0.1", server.port)
    assert (listening["env"], listening["version"], listening["workers"]) == (
        "prod",
        "hotel-ops@1.0.0",
        1,
    )
    assert any(e["event"] == "pkg_stopping" for e in events)
    assert all("\x1b[" not in line for line in lines)  # no colour codes in a file
    text = log_path.read_text()
    assert TOKEN not in text and WRONG not in text and SECRET not in text


def test_readable_logs_redirected_to_a_file_carry_no_colour_codes(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp_path / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "PKG_LOG_LEVEL": "INFO",
            "PKG_LOG_JSON": "false",
        },
        log_path=log_path,
    ).start()
    server.stop()

    text = log_path.read_text()
    assert "pkg_listening" in text and "uvicorn" in text  # PKG's and uvicorn's lines
    assert "alembic" not in text and "Running upgrade" not in text  # migrations run quietly
    assert "\x1b[" not in text
