"""The house's imports hold: the contracts in pyproject.toml's [tool.importlinter] (layers, the
client SDK apart from the server, no circles between any two modules or packages of `app`),
checked by import-linter over every import in the tree, lazy and TYPE_CHECKING ones included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
