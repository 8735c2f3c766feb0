"""Installs come from uv.lock: it must hold what pyproject.toml asks for, with a hash for every
file, and every way in (Makefile, Dockerfile) must install from it and nothing else."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def uv() -> str:
    """The uv the Makefile bootstrapped (`.uv/bin/uv`), else one on PATH; a missing uv fails."""
    local = ROOT / ".uv" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    assert found, "uv is not installed: run `make install-dev` (it bootstraps .uv/bin/uv)"
    return found


def lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_OFFLINE": "1"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [uv(), "lock", "--check", "--offline", "--project", str(project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def project_copy(tmp_path: Path) -> Path:
    """The root project and its uv workspace members (clients/python): the lock covers both."""
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    uv_settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]
    for member in uv_settings.get("workspace", {}).get("members", []):
        skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
        shutil.copytree(ROOT / member, tmp_path / member, ignore=skip)
    return tmp_path


def test_the_lock_agrees_with_pyproject() -> None:
    result = lock_check(ROOT)
    assert result.returncode == 0, f"uv.lock is out of date: run `make lock`\n{result.stderr}"


def test_a_pyproject_changed_without_relocking_is_reported(tmp_path: Path) -> None:
    """A narrower range the locked version still satisfies: the lock's recorded inputs differ,
    so the check fails, naming `make lock`'s remedy."""
    project = project_copy(tmp_path)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert '"orjson>=3.10"' in text, "the test edits orjson's floor; pick another package"
    pyproject.write_text(text.replace('"orjson>=3.10"', '"orjson>=3.11"'))
    result = lock_check(project)
    assert result.returncode != 0
    assert "needs to be updated" in result.stderr


def test_every_locked_file_carries_a_hash() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    unhashed = [
        f"{package['name']} {package.get('version')}: {artifact.get('url', '?')}"
        for package in lock["package"]
        if "registry" in package.get("source", {})
        for artifact in [package.get("sdist", {}), *package.get("wheels", [])]
        if artifact and not str(artifact.get("hash", "")).startswith("sha256:")
    ]
    assert unhashed == []


def test_the_lock_pins_the_dev_tools_too() -> None:
    names = {
        package["name"] for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    assert {"pytest", "mypy", "ruff", "hypothesis", "schemathesis"} <= names


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("Makefile", r"\$\(UV\) sync -q --frozen --extra dev"),
        ("Makefile", r"\$\(UV\) sync -q --frozen --inexact"),
        ("Makefile", r"pip install -q --require-hashes --no-deps -r scripts/uv-requirements.txt"),
        ("Dockerfile", r"RUN uv sync --frozen --no-editable"),
        ("Dockerfile", r"pip install --require-hashes --no-deps -r /tmp/uv-requirements.txt"),
    ],
)
def test_every_way_in_installs_from_the_lock(path: str, pattern: str) -> None:
    assert re.search(pattern, (ROOT / path).read_text()), f"{path} no longer matches {pattern!r}"


def test_nothing_installs_around_the_lock() -> None:
    """No `pip install` of a package by name (which would resolve the newest release), except
    `make test-latest`'s, whose job that is, into its own .venv-latest."""
    offenders = [
        f"{path.name}: {line.strip()}"
        for path in (ROOT / "Makefile", ROOT / "Dockerfile", ROOT / ".ci" / "run")
        for line in path.read_text().splitlines()
        if re.search(r"\bpip install\b", line)
        and "--require-hashes" not in line
        and ".venv-latest" not in line
    ]
    assert offenders == []


def test_the_installer_itself_is_pinned_by_hash() -> None:
    text = (ROOT / "scripts" / "uv-requirements.txt").read_text()
    assert re.search(r"^uv==\d+\.\d+\.\d+ \\$", text, flags=re.M)
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", text)) >= 2
