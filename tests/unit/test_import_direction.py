"""Imports run one way (DESIGN.md §1): neither `app.services` nor `app.api` imports an adapter;
adapters plug in through app/services/ports.py, wired by the composition root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import app

PROBE = """
import importlib, json, pkgutil, sys
import app.{package}
for module in pkgutil.walk_packages(app.{package}.__path__, "app.{package}."):
    importlib.import_module(module.name)
print(json.dumps(sorted(name for name in sys.modules if name.startswith("app.adapters"))))
"""


@pytest.mark.parametrize("package", ["services", "api"])
def test_package_imports_no_adapter(package: str) -> None:
    root = Path(app.__file__).parents[1]
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(package=package)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"app.{package} pulls in {loaded}"


def test_importing_the_services_registers_no_engine() -> None:
    probe = (
        "import app.services.evaluator, app.services.manager, json;"
        "from app.domain.engine import ENGINE_REGISTRY;"
        "from app.services.feed import FEED_ADAPTERS;"
        "print(json.dumps([sorted(ENGINE_REGISTRY), len(FEED_ADAPTERS)]))"
    )
    root = Path(app.__file__).parents[1]
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [[], 0]
