"""Imported as a library, PKG configures no logging: an `evaluate()` prints nothing, and the
application's own `logging` configuration still sees PKG's events (under `pkg.*`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[2]

PROGRAM = textwrap.dedent(
    """
    import sys
    if sys.argv[1] == "debug":
        import logging
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s %(message)s")
    from app import PKGEvaluator, PKGSnapshotData
    vip = {"condition_type": "TAG", "condition_key": "vip", "operator": "EXISTS"}
    rules = [{"rule_name": "vip", "conditions": [vip], "emissions": [{"subtask_type": "escalate"}]}]
    evaluator = PKGEvaluator(PKGSnapshotData(id=1, version="v@1", engine="native",
                                             wasm_artifact=None, checksum=None, rules=rules))
    assert evaluator.evaluate({"tags": ["vip"]})["subtasks"]
    """
)


def run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_an_evaluation_prints_nothing_when_the_application_configured_no_logging() -> None:
    quiet = run("plain")
    assert quiet.returncode == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")


def test_the_applications_logging_configuration_sees_pkgs_events() -> None:
    loud = run("debug")
    assert loud.returncode == 0, loud.stderr
    assert loud.stdout == ""
    lines = [line for line in loud.stderr.splitlines() if line.startswith("pkg.evaluator ")]
    assert lines and "pkg_evaluation_complete" in lines[0]
    assert "engine=native" in lines[0] and "version=v@1" in lines[0]
