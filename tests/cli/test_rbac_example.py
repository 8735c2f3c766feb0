"""The walk-through of examples/wasm/rbac/README.md, against a real server: build the bundle,
push the document that names it, validate, promote, evaluate both entrypoints, push the bare
bundle."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.entrypoints.cli import cli
from bench.server import ROOT, ServerProcess

RBAC = ROOT / "examples" / "wasm" / "rbac"
TOKEN = "rbac-admin-token"
runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("rbac")
    process = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "PKG_ADMIN_TOKENS": TOKEN,
            "PKG_LOG_LEVEL": "WARNING",
        },
        log_path=tmp / "server.log",
    )
    process.start()
    yield process
    process.stop()


def pkgctl(server: ServerProcess, *args: str) -> Any:
    env = {"PKG_URL": server.url, "PKG_TOKEN": TOKEN}
    result = runner.invoke(cli, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_rbac_walk_through(server: ServerProcess, tmp_path: Path) -> None:
    shutil.copy(RBAC / "policy.yaml", tmp_path / "policy.yaml")
    bundle = tmp_path / "bundle.tar.gz"
    subprocess.run([sys.executable, str(RBAC / "build.py"), str(bundle)], check=True)

    pushed = pkgctl(server, "push", str(tmp_path / "policy.yaml"))
    assert pushed["version"] == "rbac@1.0.0"
    assert pushed["entrypoints"] == ["app/rbac/decision", "app/rbac/allow"]
    assert pushed["revision"] == "rbac-2026-12-01"
    validated = pkgctl(server, "validate", "rbac@1.0.0")
    assert validated["success"] is True and validated["report"]["passed"] == 5
    pkgctl(server, "promote", "rbac@1.0.0", "--reason", "RBAC from data.json")

    decision = pkgctl(server, "eval", '{"user": "alice", "action": "delete"}')
    assert decision["subtasks"][0]["params"] == {"role": "admin"}
    allow = pkgctl(
        server, "eval", "--entrypoint", "app/rbac/allow", '{"user": "bob", "action": "delete"}'
    )
    assert allow["result"] is False

    bare = pkgctl(server, "push", str(bundle), "--version", "rbac@1.0.1")
    assert bare["checksum"] == pushed["checksum"]
    shown = httpx.get(
        f"{server.url}/snapshots/rbac@1.0.0", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    grants = json.loads((RBAC / "app/rbac/data.json").read_text())
    canonical = json.dumps({"app": {"rbac": grants}}, sort_keys=True, separators=(",", ":"))
    assert shown["data_size"] == len(canonical)
    assert shown["revision"] == "rbac-2026-12-01"
