"""The house's imports hold: the contracts in pyproject.toml's [tool.importlinter] (layers, the
client SDK apart from the server, no circles between any two modules or packages of `app`),
checked by import-linter over every import in the tree, lazy and TYPE_CHECKING ones included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_module_of_app_is_in_an_import_circle() -> None:
    """Module by module, not only between siblings: no chain of imports leads back."""
    graph = grimp.build_graph("app", cache_dir=None)
    circles = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(module))
        if module != imported
        and not imported.startswith(module + ".")  # a package's __init__ naming its children
        and not module.startswith(imported + ".")  # ... or a child its package (re-exports)
        and graph.chain_exists(importer=imported, imported=module)
    ]
    assert circles == []
