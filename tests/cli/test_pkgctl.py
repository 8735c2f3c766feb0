"""`pkgctl`: local fixture runs for users' CI, and the lifecycle against a real server."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.entrypoints.cli import cli
from bench.server import ROOT, ServerProcess
from tests.api.test_hostile_documents import alias_bomb, nested_yaml
from tests.unit.wasm import wat

EXAMPLES = ROOT / "examples"
TOKEN = "cli-admin-token"
READER = "cli-reader-token"
runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess.embedded(
        tmp_path_factory.mktemp("cli"),
        PKG_SEED_FILE=str(EXAMPLES / "hotel_ops.yaml"),
        PKG_ADMIN_TOKENS=TOKEN,
        PKG_EVALUATOR_TOKENS=READER,
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
    code, output = pkgctl("push", str(EXAMPLES / "hotel_ops_v2.yaml"), "--json", server=server)
    assert code == 0, output
    assert json.loads(output)["version"] == "hotel-ops@1.1.0"
    code, output = pkgctl("validate", "hotel-ops@1.1.0", server=server)
    assert code == 0, output
    code, output = pkgctl("promote", "hotel-ops@1.1.0", "--reason", "cli test", server=server)
    assert code == 0, output
    facts = f"@{EXAMPLES / 'facts' / 'vip_allergy.json'}"
    code, output = pkgctl("eval", facts, "--json", server=server)
    assert code == 0, output
    decision = json.loads(output)
    assert decision["snapshot"] == "hotel-ops@1.1.0"
    assert "notify_duty_manager" in [s["name"] for s in decision["subtasks"]]
    code, output = pkgctl("rollback", "--reason", "cli test", "--json", server=server)
    assert code == 0, output
    assert json.loads(output)["to_version"] == "hotel-ops@1.0.0"
    code, output = pkgctl("status", "--json", server=server)
    assert json.loads(output)["metadata"]["version"] == "hotel-ops@1.0.0"


def test_push_reads_a_wasm_file_next_to_the_document(server: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "policy.wasm").write_bytes(wat.kitchen_wasm())
    document = {
        "version": "kitchen-cli@1.0.0",
        "engine": "wasm",
        "wasm": {"file": "policy.wasm", "entrypoint": "decision"},
    }
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(document))
    code, output = pkgctl("push", str(tmp_path / "policy.yaml"), "--json", server=server)
    assert code == 0, output
    assert json.loads(output)["checksum"] == wat.sha256(wat.kitchen_wasm())
    code, output = pkgctl(
        "eval", '{"tags": ["vip"]}', "--version", "kitchen-cli@1.0.0", "--json", server=server
    )
    assert json.loads(output)["subtasks"] == wat.DECISION["subtasks"]


def test_errors_from_the_server_are_printed_with_their_fields(server: ServerProcess) -> None:
    code, output = pkgctl("promote", "nope@0", server=server)
    assert code == 2  # an unknown version is invalid input
    assert "error 404" in output


def test_push_of_an_invalid_document_prints_each_error_once_and_exits_2(
    server: ServerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: x@1\nrules: [{name: a, conditions: [{type: TAG, key: a, op: LIKE}]}]")
    code, output = pkgctl("push", str(path), server=server)
    assert code == 2  # the same as `pkgctl test` for the same document
    assert output.count("rules[0].conditions[0].op") == 1, output


def test_a_refused_promotion_exits_1(server: ServerProcess, tmp_path: Path) -> None:
    document = yaml.safe_load((EXAMPLES / "hotel_ops_v2.yaml").read_text())
    document["version"] = "hotel-ops@9.0.0"
    document["fixtures"][0]["expect"]["subtasks"][0]["name"] = "nothing_like_it"
    path = tmp_path / "failing.yaml"
    path.write_text(yaml.safe_dump(document))
    assert pkgctl("push", str(path), server=server)[0] == 0
    assert pkgctl("validate", "hotel-ops@9.0.0", server=server)[0] == 1
    code, output = pkgctl("promote", "hotel-ops@9.0.0", server=server)
    assert code == 1 and "error 409" in output


def test_status_with_an_evaluator_token_shows_the_metadata(server: ServerProcess) -> None:
    env = {"PKG_URL": server.url, "PKG_TOKEN": READER}
    result = runner.invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metadata"]["version"].startswith("hotel-ops@")
    result = runner.invoke(cli, ["status"], env=env)
    assert result.exit_code == 0, result.output
    assert re.search(r"^status +ok$", result.stdout, re.M), result.stdout
    assert re.search(r"^version +hotel-ops@", result.stdout, re.M), result.stdout


def test_status_with_a_wrong_token_exits_2(server: ServerProcess) -> None:
    env = {"PKG_URL": server.url, "PKG_TOKEN": "not-a-token-of-this-server"}
    result = runner.invoke(cli, ["status"], env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == ["error 401: invalid bearer token"]


def test_status_without_a_token_shows_health_and_says_why_not_more(server: ServerProcess) -> None:
    result = runner.invoke(
        cli, ["status", "--json"], env={"PKG_URL": server.url, "PKG_TOKEN": None}
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["health"]["status"] == "ok" and body["metadata"] is None
    assert "evaluator role" in result.stderr


def test_an_unreachable_server_exits_1_with_one_line() -> None:
    result = runner.invoke(
        cli, ["status"], env={"PKG_URL": "http://127.0.0.1:9", "PKG_TOKEN": None}
    )
    assert result.exit_code == 1
    assert result.stderr.count("cannot reach") == 1


# ---------------------------------------------------------------- local eval, like `opa eval`
def test_eval_with_a_policy_decides_locally_without_a_server() -> None:
    code, output = pkgctl(
        "eval",
        "--policy",
        str(EXAMPLES / "hotel_ops.yaml"),
        f"@{EXAMPLES / 'facts' / 'vip_allergy.json'}",
        "--json",
    )
    assert code == 0, output
    decision = json.loads(output)
    assert [r["rule_name"] for r in decision["rules"]] == ["vip_allergy_guard"]
    assert decision["snapshot"] == "hotel-ops@1.0.0"


def test_eval_explain_says_which_conditions_held() -> None:
    code, output = pkgctl(
        "eval",
        "--policy",
        str(EXAMPLES / "hotel_ops.yaml"),
        "--explain",
        '{"tags": ["vip", "allergy_nuts"]}',
        "--json",
    )
    assert code == 0, output
    explained = {rule["rule_name"]: rule for rule in json.loads(output)["explain"]}
    assert explained["vip_allergy_guard"]["fired"] is True


def test_eval_exits_2_on_invalid_facts_or_document(tmp_path: Path) -> None:
    code, output = pkgctl("eval", "--policy", str(EXAMPLES / "hotel_ops.yaml"), '{"tags": [1]}')
    assert (code, output.count("tags[0]")) == (2, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x@1\nrules: [{name: a, conditions: [{type: TAG, key: a, op: LIKE}]}]")
    code, output = pkgctl("eval", "--policy", str(bad), "{}")
    assert code == 2 and output.count("rules[0].conditions[0].op") == 1


def test_eval_runs_a_wasm_policy_locally(tmp_path: Path) -> None:
    (tmp_path / "policy.wasm").write_bytes(wat.kitchen_wasm())
    document = {
        "version": "k@1",
        "engine": "wasm",
        "wasm": {"file": "policy.wasm", "entrypoint": "decision"},
    }
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(document))
    policy = str(tmp_path / "policy.yaml")
    code, output = pkgctl("eval", "--policy", policy, '{"tags": ["vip"]}', "--json")
    assert code == 0, output
    assert json.loads(output)["subtasks"] == wat.DECISION["subtasks"]


# ---------------------------------------------------------------- fmt, like `opa fmt`
def test_fmt_rewrites_a_document_in_canonical_form_and_keeps_its_meaning(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    original = (EXAMPLES / "hotel_ops.yaml").read_text()
    path.write_text(original)
    assert pkgctl("fmt", "--check", str(path))[0] == 1
    code, output = pkgctl("fmt", str(path))
    assert code == 0 and "formatted" in output
    assert yaml.safe_load(path.read_text()) == yaml.safe_load(original)
    assert pkgctl("fmt", "--check", str(path)) == (0, "")
    first_rule = yaml.safe_load(path.read_text())["rules"][0]
    assert list(first_rule)[:2] == ["name", "priority"]


def test_fmt_orders_keys_the_same_whatever_the_input_order(tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    rule = {"emissions": [{"params": {"b": 1, "a": 2}, "subtask_type": "s"}], "name": "r"}
    one.write_text(json.dumps({"rules": [rule], "subtask_types": {"s": {}}, "version": "v@1"}))
    two.write_text(
        json.dumps(
            {"version": "v@1", "subtask_types": {"s": {}}, "rules": [dict(reversed(rule.items()))]}
        )
    )
    assert pkgctl("fmt", str(one), str(two))[0] == 0
    assert one.read_text() == two.read_text()
    assert list(json.loads(one.read_text())) == ["version", "subtask_types", "rules"]


def test_fmt_leaves_an_invalid_document_alone_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = "rules: [{name: a, conditions: [{type: TAG, key: a, op: LIKE}]}]\nversion: x@1\n"
    path.write_text(text)
    code, _ = pkgctl("fmt", str(path))
    assert code == 2 and path.read_text() == text


# ------------------------------------------------- the lifecycle page (docs/), as written
LIFECYCLE_PAGE = ROOT / "docs" / "lifecycle.md"


def lifecycle_page_commands() -> list[list[str]]:
    """The `pkgctl` commands of the first ```sh block of docs/lifecycle.md, in order."""
    page = LIFECYCLE_PAGE.read_text()
    section = page.split("# The lifecycle of a policy", 1)[1].split("```sh", 1)[1]
    block = section.split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "pkgctl":
            commands.append(words[1:])
    return commands


def test_the_lifecycle_page_does_what_it_says(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = ServerProcess.embedded(
        tmp_path_factory.mktemp("lifecycle"),
        PKG_SEED_FILE=str(EXAMPLES / "hotel_ops.yaml"),
        PKG_ADMIN_TOKENS=TOKEN,
        PKG_DECISION_LOG="database",  # what `pkgctl replay` reads
    )
    process.start()
    monkeypatch.chdir(ROOT)  # the page's paths are relative to the checkout
    try:
        commands = lifecycle_page_commands()
        assert [c[0] for c in commands] == [
            "test", "eval", "push", "diff", "validate", "replay", "lane", "promote", "eval",
            "rollback", "status", "fleet",
        ]  # fmt: skip
        for args in commands:
            code, output = pkgctl(*args, server=process)
            assert code == 0, (args, output)
            if args[0] == "eval":  # both examples fire a rule on the demo, as promised
                assert "rules: -" not in output and "rules: " in output, (args, output)
    finally:
        process.stop()


def test_compare_prints_each_difference_and_fails_on_diff_when_asked(
    server: ServerProcess, tmp_path: Path
) -> None:
    if pkgctl("eval", "{}", "--version", "hotel-ops@1.1.0", server=server)[0] != 0:
        assert pkgctl("push", str(EXAMPLES / "hotel_ops_v2.yaml"), server=server)[0] == 0
    vip = (EXAMPLES / "facts" / "vip_allergy.json").read_text().replace("\n", " ")
    facts = tmp_path / "facts.jsonl"
    facts.write_text(f'# recorded traffic\n{{"tags": []}}\n\n{vip}\n')

    code, output = pkgctl(
        "compare", "hotel-ops@1.0.0", "hotel-ops@1.1.0", str(facts), server=server
    )
    assert code == 0, output  # differences alone are not a failure
    assert "line 4: differs" in output and "line 2" not in output
    assert "  + subtask notify_duty_manager (notify_manager)" in output
    assert "  + edge assign_chef → notify_duty_manager (sequential)" in output
    assert "2 inputs, 1 different, 1 identical" in output

    code, output = pkgctl(
        "compare", "hotel-ops@1.0.0", "hotel-ops@1.1.0", str(facts), "--fail-on-diff", server=server
    )
    assert code == 1, output
    code, output = pkgctl(
        "compare", "hotel-ops@1.0.0", "hotel-ops@1.0.0", str(facts), "--fail-on-diff", server=server
    )
    assert code == 0 and "2 inputs, 0 different" in output


def test_compare_on_fixtures_and_a_bad_facts_line(server: ServerProcess, tmp_path: Path) -> None:
    code, output = pkgctl("compare", "hotel-ops@1.0.0", "hotel-ops@1.0.0", server=server)
    assert code == 0 and "9 inputs, 0 different" in output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tags": []}\n[1, 2]\n')
    code, output = pkgctl("compare", "hotel-ops@1.0.0", "hotel-ops@1.0.0", str(bad), server=server)
    assert code == 2 and "line 2: expected a JSON object" in output
