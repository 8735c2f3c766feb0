"""examples/wasm/hello: the README walk-through, run as written against a real server, on a
module compiled from the example's WebAssembly text the way `make wasm-example` does."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.entrypoints.cli import cli
from bench.server import ROOT, ServerProcess

EXAMPLE = ROOT / "examples" / "wasm" / "hello"
TOKEN = "wasm-example-token"


ANSWERS_READ = frozenset({"eval", "push", "validate", "rollback"})


def walkthrough() -> list[str]:
    block = (EXAMPLE / "README.md").read_text().split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example with policy.wasm built by the make target's script."""
    copy = tmp_path / "hello"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("policy.wasm"))
    built = subprocess.run(
        [sys.executable, str(copy / "build.py"), str(copy / "policy.wasm")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    monkeypatch.chdir(copy)
    return copy


def test_the_make_target_builds_the_module() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^wasm-example:.*\n\t(.+)$", makefile, flags=re.M)
    assert recipe and "examples/wasm/hello/build.py" in recipe[1]
    assert walkthrough()[0].startswith("make wasm-example")


def test_the_readme_walkthrough_works_as_written(example: Path, tmp_path: Path) -> None:
    server = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp_path / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "PKG_ADMIN_TOKENS": TOKEN,
            "PKG_LOG_LEVEL": "WARNING",
        }
    ).start()
    runner = CliRunner()
    outputs: dict[str, str] = {}
    try:
        for line in walkthrough():
            words = shlex.split(line, comments=True)
            if words[0] != "pkgctl":
                continue  # make and cd: done by the fixture
            # the answers are read as JSON below (pkgctl prints them for people by default)
            args = [*words[1:], "--json"] if words[1] in ANSWERS_READ else words[1:]
            result = runner.invoke(cli, args, env={"PKG_URL": server.url, "PKG_TOKEN": TOKEN})
            assert result.exit_code == 0, (line, result.output)
            outputs[" ".join(words[1:3])] = result.stdout
    finally:
        server.stop()
    assert "3 passed, 0 failed" in outputs["test policy.yaml"]
    local = json.loads(outputs["eval --policy"])
    assert [s["name"] for s in local["subtasks"]] == ["welcome_vip"]
    pushed = json.loads(outputs["push policy.yaml"])
    assert (pushed["engine"], pushed["version"]) == ("wasm", "hello-wasm@1.0.0")
    assert json.loads(outputs["validate hello-wasm@1.0.0"])["success"] is True
    served = json.loads(outputs["eval @fixtures/guest.json"])
    assert (served["engine"], served["snapshot"]) == ("wasm", "hello-wasm@1.0.0")
    assert served["subtasks"][0]["params"] == {"gift": "none"}
    assert "result" not in served  # a PKG decision object is the decision itself
    assert json.loads(outputs["rollback --reason"])["to_version"] == "hotel-ops@1.0.0"
