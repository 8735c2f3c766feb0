"""A real `pkgctl serve`: its standard error is one JSON object per line, Alembic's and
uvicorn's lines included; it says where it listens and when it stops; no token or fact value
reaches the log; `pkgctl decisions` prints what it decided."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from app.entrypoints.cli import cli
from bench.server import ROOT, ServerProcess

TOKEN = "serve-logs-admin-token"
SECRET = "guest-name-that-must-not-be-logged"


def test_serve_logs_json_lines_and_pkgctl_decisions_reads_back(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp_path / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "PKG_ADMIN_TOKENS": TOKEN,
            "PKG_LOG_LEVEL": "INFO",
            "PKG_LOG_JSON": "true",
            "PKG_DECISION_LOG": "database",
            "PKG_DECISION_LOG_MASK": "input.context.guest_name",
        },
        log_path=log_path,
    ).start()
    try:
        decision = httpx.post(
            server.url + "/evaluate",
            json={"tags": ["vip"], "context": {"guest_name": SECRET}},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
        env = {"PKG_URL": server.url, "PKG_TOKEN": TOKEN}
        one = CliRunner().invoke(cli, ["decisions", decision["decision_id"]], env=env)
        listed = CliRunner().invoke(cli, ["decisions", "--limit", "5"], env=env)
    finally:
        server.stop()

    assert one.exit_code == 0, one.output
    assert json.loads(one.output)["input"]["context"]["guest_name"] == "**REDACTED**"
    assert decision["decision_id"] in listed.output and SECRET not in listed.output
    lines = log_path.read_text().splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    loggers = {str(e.get("logger", "")).split(".")[0] for e in events}
    assert {"alembic", "uvicorn"} <= loggers
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
    assert TOKEN not in text and SECRET not in text


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
    assert "pkg_listening" in text and "Running upgrade" in text  # PKG's and Alembic's lines
    assert "\x1b[" not in text
