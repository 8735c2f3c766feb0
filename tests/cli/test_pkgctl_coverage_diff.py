"""`pkgctl test --coverage`, `pkgctl diff` and `pkgctl coverage`, as reviewers and CI use them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bench.server import ServerProcess
from tests.cli.test_pkgctl import EXAMPLES, TOKEN, pkgctl

V2 = EXAMPLES / "hotel_ops_v2.yaml"


def wait_until(probe: Callable[[], dict[str, object] | None], timeout: float) -> dict[str, object]:
    """Poll `probe` until it returns a report (the replica flushes its counts on a timer)."""
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        assert time.monotonic() < deadline, "the counts never reached the database"
        time.sleep(0.1)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess.embedded(
        tmp_path_factory.mktemp("coverage"),
        PKG_SEED_FILE=str(EXAMPLES / "hotel_ops.yaml"),
        PKG_ADMIN_TOKENS=TOKEN,
        PKG_COVERAGE_FLUSH_INTERVAL_S="0.2",
    )
    process.start()
    assert pkgctl("push", str(V2), server=process)[0] == 0
    yield process
    process.stop()


def test_coverage_names_what_no_fixture_exercises_and_the_threshold_decides_the_exit() -> None:
    code, output = pkgctl("test", str(V2), "--coverage", "--json")
    assert code == 0, output
    report = json.loads(output)["coverage"]
    assert report["engine"] == "native" and report["available"] is True
    rules = {rule["rule_name"]: rule for rule in report["rules"]}
    assert rules["vip_allergy_guard"]["covered"] is True
    never = [name for name, rule in rules.items() if not rule["covered"]]
    assert never and "airport_transfer" in never
    share = report["percent"]
    assert 0 < share < 100
    assert pkgctl("test", str(V2), "--coverage", "--threshold", str(int(share)))[0] == 0
    code, output = pkgctl("test", str(V2), "--coverage", "--threshold", str(int(share) + 1))
    assert code == 1 and "below the threshold" in output
    assert "rule airport_transfer: no fixture makes it fire" in output


def test_a_document_with_every_rule_fired_is_fully_covered_by_rules(tmp_path: Path) -> None:
    document = {
        "version": "tiny@1",
        "subtask_types": {"s": {}},
        "rules": [
            {
                "name": "r",
                "conditions": [{"type": "TAG", "key": "a", "op": "EXISTS"}],
                "emissions": [{"subtask_type": "s", "name": "x"}],
            }
        ],
        "fixtures": [
            {"name": "fires", "input": {"tags": ["a"]}, "expect": {"subtasks": [{"name": "x"}]}},
            {"name": "quiet", "input": {"tags": []}, "expect": {"subtasks": []}},
        ],
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(document))
    code, output = pkgctl("test", str(path), "--coverage", "--threshold", "100")
    assert code == 0, output
    assert "coverage: 100" in output


def test_diff_reads_well_in_a_pull_request_and_fails_on_diff_when_asked(
    server: ServerProcess,
) -> None:
    code, markdown = pkgctl("diff", "hotel-ops@1.0.0", "hotel-ops@1.1.0", server=server)
    assert code == 0, markdown
    assert "hotel-ops@1.0.0" in markdown and "hotel-ops@1.1.0" in markdown
    assert "#" in markdown  # headings a pull-request comment renders
    code, output = pkgctl(
        "diff", "hotel-ops@1.0.0", "hotel-ops@1.1.0", "--format", "json", server=server
    )
    assert code == 0, output
    report = json.loads(output)
    assert report["rules"]["added"] or report["rules"]["changed"] or report["rules"]["removed"]
    code, _ = pkgctl("diff", "hotel-ops@1.0.0", "hotel-ops@1.1.0", "--fail-on-diff", server=server)
    assert code == 1
    code, _ = pkgctl("diff", "hotel-ops@1.1.0", "hotel-ops@1.1.0", "--fail-on-diff", server=server)
    assert code == 0
    code, output = pkgctl("diff", "hotel-ops@1.0.0", "nope@9", server=server)
    assert code != 0 and "nope@9" in output


def test_production_coverage_counts_what_fired_and_names_the_dead_rules(
    server: ServerProcess,
) -> None:
    vip = (EXAMPLES / "facts" / "vip_allergy.json").read_text()
    assert pkgctl("eval", vip, server=server)[0] == 0

    def fired() -> dict[str, object] | None:
        code, output = pkgctl(
            "coverage", "hotel-ops@1.0.0", "--since", "1h", "--json", server=server
        )
        assert code == 0, output
        report = json.loads(output)
        rules = {rule["rule_name"]: rule for rule in report["rules"]}
        return report if rules.get("vip_allergy_guard", {}).get("fired", 0) else None

    report = wait_until(fired, timeout=30)
    never_fired = report["never_fired"]
    assert isinstance(never_fired, list) and "airport_transfer" in never_fired
    code, output = pkgctl("coverage", "hotel-ops@1.0.0", "--since", "soon", server=server)
    assert code != 0 and "since" in output
