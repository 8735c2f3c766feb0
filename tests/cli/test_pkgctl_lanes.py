"""`pkgctl` covers the API: stored snapshots, canary and shadow lanes, guarded promotions and
their watch; human output by default, `--json` for scripts; help without Python type names."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from app.entrypoints.cli import cli
from bench.server import ROOT, ServerProcess

EXAMPLES = ROOT / "examples"
TOKEN = "lanes-admin-token"
V1, V2 = "hotel-ops@1.0.0", "hotel-ops@1.1.0"
runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess.embedded(
        tmp_path_factory.mktemp("lanes"),
        PKG_SEED_FILE=str(EXAMPLES / "hotel_ops.yaml"),
        PKG_ADMIN_TOKENS=TOKEN,
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def pushed(server: ServerProcess) -> ServerProcess:
    assert pkgctl(server, "push", str(EXAMPLES / "hotel_ops_v2.yaml"))[0] == 0
    assert pkgctl(server, "validate", V2)[0] == 0
    return server


def pkgctl(server: ServerProcess | None, *args: str) -> tuple[int, str]:
    env = {"PKG_URL": server.url, "PKG_TOKEN": TOKEN} if server else {}
    result = runner.invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_snapshot_list_and_get_for_people_and_for_scripts(pushed: ServerProcess) -> None:
    code, output = pkgctl(pushed, "snapshot", "list")
    assert code == 0, output
    assert output.splitlines()[0].split()[:3] == ["VERSION", "ENV", "ENGINE"]
    assert re.search(rf"^{re.escape(V1)} +prod +native +yes ", output, re.M), output
    code, output = pkgctl(pushed, "snapshot", "list", "--json")
    assert {row["version"] for row in json.loads(output)} >= {V1, V2}

    code, output = pkgctl(pushed, "snapshot", "get", V2)
    assert code == 0, output
    assert re.search(rf"^version +{re.escape(V2)}$", output, re.M), output
    assert re.search(r"^is_active +no$", output, re.M), output
    code, output = pkgctl(pushed, "snapshot", "get", "active", "--json")
    assert json.loads(output)["version"] == V1
    code, output = pkgctl(pushed, "snapshot", "get", "nope@0")
    assert code == 2 and "error 404" in output


def test_lanes_open_list_patch_shadow_report_and_close(pushed: ServerProcess) -> None:
    code, output = pkgctl(
        pushed, "lane", "open", V2, "--target", "router", "--percent", "100", "--mode", "shadow",
        "--json",
    )  # fmt: skip
    assert code == 0, output
    lane = json.loads(output)
    assert (lane["target"], lane["mode"], lane["percent"]) == ("router", "shadow", 100)
    lane_id = str(lane["id"])

    code, output = pkgctl(pushed, "lane", "list")
    assert code == 0, output
    assert output.splitlines()[0].split() == [
        "ID", "TARGET", "REGION", "MODE", "PERCENT", "VERSION", "IS_ACTIVE",
    ]  # fmt: skip
    assert re.search(rf"^{lane_id} +router +global +shadow +100 ", output, re.M), output

    code, output = pkgctl(pushed, "lane", "patch", lane_id, "--percent", "40")
    assert code == 0, output
    assert re.search(r"^percent +40$", output, re.M), output
    assert pkgctl(pushed, "lane", "patch", lane_id)[0] == 2  # nothing to change

    code, output = pkgctl(pushed, "lane", "shadow", lane_id)
    assert code == 0, output
    assert re.search(rf"^version +{re.escape(V2)}$", output, re.M), output
    assert re.search(r"^evaluated +\d+$", output, re.M) and "divergence" in output
    code, output = pkgctl(pushed, "lane", "shadow", lane_id, "--json")
    assert json.loads(output)["deployment_id"] == int(lane_id)

    code, output = pkgctl(pushed, "lane", "close", lane_id)
    assert code == 0 and re.search(r"^is_active +no$", output, re.M), output
    code, output = pkgctl(pushed, "lane", "list", "--json")
    assert int(lane_id) not in [row["id"] for row in json.loads(output)]
    code, output = pkgctl(pushed, "lane", "list", "--all", "--json")
    assert int(lane_id) in [row["id"] for row in json.loads(output)]


def test_a_guarded_promotion_is_watched_and_its_guard_can_be_read(pushed: ServerProcess) -> None:
    code, output = pkgctl(pushed, "promote", V2, "--max-divergence", "0.01", "--reason", "r")
    assert code == 1, output  # refused: no shadow decisions yet
    assert "shadow decisions" in output

    code, output = pkgctl(
        pushed, "promote", V2, "--watch", "10m", "--max-error-rate", "0.5", "--reason", "guarded",
        "--json",
    )  # fmt: skip
    assert code == 0, output
    promotion = json.loads(output)
    assert promotion["guard"]["status"] == "watching"
    assert promotion["guard"]["config"] == {"watch_s": 600.0, "max_error_rate": 0.5}

    code, output = pkgctl(pushed, "guard", str(promotion["id"]))
    assert code == 0, output
    assert re.search(r"^status +watching$", output, re.M), output
    assert re.search(rf"^from_version +{re.escape(V1)}$", output, re.M), output
    code, output = pkgctl(pushed, "guard", str(promotion["id"]), "--json")
    assert json.loads(output)["version"] == V2

    code, output = pkgctl(pushed, "rollback", "--reason", "back")
    assert code == 0, output
    assert re.search(rf"^to_version +{re.escape(V1)}$", output, re.M), output
    assert re.search(r"^action +rollback$", output, re.M), output


def test_version_prints_the_installed_version_and_the_decision_core() -> None:
    code, output = pkgctl(None, "--version")
    assert code == 0
    core = "compiled \\(mypyc\\)" if os.environ.get("PKG_PURE_PYTHON") != "1" else "pure Python .*"
    assert re.fullmatch(rf"pkgctl \d+\.\d+\.\d+\S*\ndecision core: {core}\n", output), output


def _commands(group: list[str]) -> list[list[str]]:
    """Every command path under `group`, from its help."""
    code, output = pkgctl(None, *group, "--help")
    assert code == 0, output
    section = output.split("Commands", 1)[1] if "Commands" in output else ""
    names = re.findall(r"^│ (\w[\w-]*) ", section, re.M)
    paths: list[list[str]] = []
    for name in names:
        sub = [*group, name]
        code, text = pkgctl(None, *sub, "--help")
        paths += _commands(sub) if "Commands" in text else [sub]
    return paths


def test_help_names_values_without_python_types() -> None:
    paths = _commands([])
    assert {"lane", "snapshot", "guard", "promote", "audit"} <= {path[0] for path in paths}
    for path in [[], *paths]:
        code, output = pkgctl(None, *path, "--help")
        assert code == 0, (path, output)
        assert not re.search(r"<(str|bool|int|float|Path|list\[[^]]*\])>", output), (path, output)
    code, output = pkgctl(None, "promote", "--help")
    assert "VERSION" in output and re.search(r"--reason +REASON", output), output
