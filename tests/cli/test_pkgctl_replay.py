"""`pkgctl replay` against a real server that logs decisions to its database: the differences,
the rules whose firing changed, the summary; --fail-on-diff, --json, --version, --limit and
pages that add up to one report; progress on stderr only on a terminal."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from app.entrypoints.cli import cli
from app.entrypoints.cli.replay import Progress
from bench.server import ROOT, ServerProcess

EXAMPLES = ROOT / "examples"
TOKEN = "cli-replay-admin"
V1, V2 = "hotel-ops@1.0.0", "hotel-ops@1.1.0"
VIP = {"tags": ["vip", "allergy_nuts"], "context": {"guest_name": "Ada Lovelace"}}
WAIT = {"signals": {"wait_minutes": 25}}
PLAIN = {"tags": ["accessibility"]}
runner = CliRunner()


def wait_for_records(url: str, count: int, *, within: float = 10.0) -> None:
    """The decision log writes beside the requests: poll until `count` records are stored."""
    give_up = time.monotonic() + within
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while time.monotonic() < give_up:
        records = httpx.get(f"{url}/decisions", headers=headers).json()["items"]
        if len(records) >= count:
            return
        time.sleep(0.02)
    raise TimeoutError(f"fewer than {count} decisions were logged within {within}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess.embedded(
        tmp_path_factory.mktemp("cli-replay"),
        PKG_SEED_FILE=str(EXAMPLES / "hotel_ops.yaml"),
        PKG_ADMIN_TOKENS=TOKEN,
        PKG_DECISION_LOG="database",
        PKG_DECISION_LOG_MASK="input.context.guest_name",
    )
    process.start()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=process.url, headers=headers) as client:
        v2 = yaml.safe_load((EXAMPLES / "hotel_ops_v2.yaml").read_text())
        pushed = client.post("/snapshots", json=v2)
        assert pushed.status_code == 201, pushed.text
        for facts in (VIP, WAIT, PLAIN):
            assert client.post("/evaluate", json=facts).status_code == 200
    wait_for_records(process.url, 3)
    yield process
    process.stop()


def pkgctl(server: ServerProcess, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args), env={"PKG_URL": server.url, "PKG_TOKEN": TOKEN})
    return result.exit_code, result.output


def test_replay_prints_each_difference_the_rules_that_changed_and_a_summary(
    server: ServerProcess,
) -> None:
    code, output = pkgctl(server, "replay", V2, "--since", "1h")

    assert code == 0, output
    assert "  + subtask notify_duty_manager\n" in output
    assert "  + rule long_wait_apology" in output
    assert "rule long_wait_apology: fires in 1 more, 0 fewer" in output
    assert '"guest_name": "**REDACTED**"' in output and "Ada" not in output
    assert "3 records: 3 replayed, 0 unreplayable; divergence 66.67%" in output
    assert f"recorded → {V2}: 3 inputs, 2 different, 1 identical" in output

    assert pkgctl(server, "replay", V2, "--fail-on-diff")[0] == 1
    assert pkgctl(server, "replay", V1, "--fail-on-diff")[0] == 0


def test_pages_add_up_to_the_report_of_one_request(server: ServerProcess) -> None:
    code, whole = pkgctl(server, "replay", V2, "--json")
    assert code == 0, whole
    code, paged = pkgctl(server, "replay", V2, "--json", "--page", "1")
    assert code == 0, paged

    one, pages = json.loads(whole), json.loads(paged)
    for key in ("records", "replayed", "totals", "divergence", "rules", "unreplayable"):
        assert pages[key] == one[key], key
    assert [i["decision_id"] for i in pages["items"]] == [i["decision_id"] for i in one["items"]]
    assert [i["index"] for i in pages["items"]] == [i["index"] for i in one["items"]]
    assert pages["truncated"] is False


def test_limit_and_version_choose_the_records(server: ServerProcess) -> None:
    code, output = pkgctl(server, "replay", V2, "--json", "--limit", "2", "--page", "1")
    assert code == 0, output
    limited = json.loads(output)
    code, output = pkgctl(server, "replay", V2, "--json", "--version", V2)
    assert code == 0, output
    by_v2 = json.loads(output)

    assert (limited["records"], limited["truncated"], limited["truncated_reason"]) == (
        2,
        True,
        "limit",
    )
    assert by_v2["records"] == 0 and by_v2["answered_by"] == V2


def test_a_bad_window_exits_2_naming_the_field(server: ServerProcess) -> None:
    code, output = pkgctl(server, "replay", V2, "--since", "yesterday")

    assert code == 2
    assert "since:" in output


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_to_a_terminal_only() -> None:
    report = {"records": 5000, "totals": {"different": 12}}
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress(stream)
        progress.show(report)
        progress.close()

    assert "replayed 5000 records, 12 different" in terminal.getvalue()
    assert pipe.getvalue() == ""
