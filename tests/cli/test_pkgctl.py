"""`pkgctl`: local fixture runs for users' CI, and the lifecycle against a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import cli
from bench.server import ROOT, ServerProcess
from tests.api.test_hostile_documents import alias_bomb, nested_yaml
from tests.unit.wasm import wat

EXAMPLES = ROOT / "examples"
TOKEN = "cli-admin-token"
runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("cli")
    process = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache"),
            "PKG_SEED_FILE": str(EXAMPLES / "hotel_ops.yaml"),
            "PKG_ADMIN_TOKENS": TOKEN,
            "PKG_LOG_LEVEL": "WARNING",
        },
        log_path=tmp / "server.log",
    )
    process.start()
    yield process
    process.stop()


def pkgctl(*args: str, server: ServerProcess | None = None) -> tuple[int, str]:
    env = {"PKG_URL": server.url, "PKG_TOKEN": TOKEN} if server else {}
    result = runner.invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_test_runs_a_documents_fixtures_locally() -> None:
    code, output = pkgctl("test", str(EXAMPLES / "hotel_ops.yaml"))
    assert code == 0, output
    assert "hotel-ops@1.0.0: 9 passed, 0 failed" in output


def test_test_exits_1_on_a_failing_fixture_and_says_what_differed(tmp_path: Path) -> None:
    document = yaml.safe_load((EXAMPLES / "hotel_ops.yaml").read_text())
    document["fixtures"][0]["expect"]["subtasks"][0]["name"] = "something_else"
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))
    code, output = pkgctl("test", str(path))
    assert code == 1
    assert f"FAIL {document['fixtures'][0]['name']}" in output
    assert "subtasks[0].name: expected 'something_else', got 'check_allergen'" in output


def test_test_exits_2_on_an_invalid_document_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: x@1\nrules: [{name: a, conditions: [{type: TAG, key: a, op: LIKE}]}]")
    code, output = pkgctl("test", str(path))
    assert code == 2
    assert "rules[0].conditions[0].op" in output


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (alias_bomb().decode(), "aliases"),
        (nested_yaml(5000).decode(), "depth"),
    ],
    ids=["alias-bomb", "deep"],
)
def test_pkgctl_reads_files_with_the_servers_bounds(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    for command in ("test", "push"):
        code, output = pkgctl(command, str(path))
        assert code == 2, output
        assert "document" in output and words in output


def test_serve_refuses_a_public_address_without_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PKG_ADMIN_TOKENS", raising=False)
    monkeypatch.delenv("PKG_EVALUATOR_TOKENS", raising=False)
    code, output = pkgctl("serve", "--host", "0.0.0.0")
    assert code == 2
    assert "refusing to bind 0.0.0.0" in output


def test_push_validate_promote_eval_rollback_status(server: ServerProcess) -> None:
    code, output = pkgctl("push", str(EXAMPLES / "hotel_ops_v2.yaml"), server=server)
    assert code == 0, output
    assert json.loads(output)["version"] == "hotel-ops@1.1.0"
    code, output = pkgctl("validate", "hotel-ops@1.1.0", server=server)
    assert code == 0, output
    code, output = pkgctl("promote", "hotel-ops@1.1.0", "--reason", "cli test", server=server)
    assert code == 0, output
    facts = f"@{EXAMPLES / 'facts' / 'vip_allergy.json'}"
    code, output = pkgctl("eval", facts, server=server)
    assert code == 0, output
    decision = json.loads(output)
    assert decision["snapshot"] == "hotel-ops@1.1.0"
    assert "notify_duty_manager" in [s["name"] for s in decision["subtasks"]]
    code, output = pkgctl("rollback", "--reason", "cli test", server=server)
    assert code == 0, output
    assert json.loads(output)["to_version"] == "hotel-ops@1.0.0"
    code, output = pkgctl("status", server=server)
    assert json.loads(output)["metadata"]["version"] == "hotel-ops@1.0.0"


def test_push_reads_a_wasm_file_next_to_the_document(server: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "policy.wasm").write_bytes(wat.kitchen_wasm())
    document = {
        "version": "kitchen-cli@1.0.0",
        "engine": "wasm",
        "wasm": {"file": "policy.wasm", "entrypoint": "decision"},
    }
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(document))
    code, output = pkgctl("push", str(tmp_path / "policy.yaml"), server=server)
    assert code == 0, output
    assert json.loads(output)["checksum"] == wat.sha256(wat.kitchen_wasm())
    code, output = pkgctl(
        "eval", '{"tags": ["vip"]}', "--version", "kitchen-cli@1.0.0", server=server
    )
    assert json.loads(output)["subtasks"] == wat.DECISION["subtasks"]


def test_errors_from_the_server_are_printed_with_their_fields(server: ServerProcess) -> None:
    code, output = pkgctl("promote", "nope@0", server=server)
    assert code == 1
    assert "error 404" in output
