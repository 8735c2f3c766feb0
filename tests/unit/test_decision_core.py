"""The compiled decision core (app/domain/core.py, scripts/build_core.py): loaded when its build
matches the sources, the pure-Python modules otherwise, and the engine's tests pass on both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from app.domain import core, native

ROOT = Path(__file__).resolve().parents[2]


def _package_copy(tmp_path: Path) -> tuple[Path, Path]:
    """The core's sources and a build stamp for them, in a folder of their own."""
    package, compiled = tmp_path / "domain", tmp_path / "domain" / "_compiled"
    compiled.mkdir(parents=True)
    for name in core.CORE_MODULES:
        shutil.copy(core.PACKAGE_DIR / f"{name}.py", package / f"{name}.py")
    (compiled / core.STAMP_NAME).write_text(json.dumps(core.stamp_for(package)))
    return package, compiled


def test_a_build_for_these_sources_is_loaded(tmp_path: Path) -> None:
    package, compiled = _package_copy(tmp_path)
    choice = core.choose({}, package, compiled)
    assert (choice.compiled, choice.folder) == (True, compiled)


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_pure_python_when_asked(tmp_path: Path, value: str) -> None:
    package, compiled = _package_copy(tmp_path)
    choice = core.choose({"PKG_PURE_PYTHON": value}, package, compiled)
    assert (choice.compiled, choice.folder, choice.reason) == (False, None, "PKG_PURE_PYTHON=1")


def test_an_edited_source_runs_pure_python_until_rebuilt(tmp_path: Path) -> None:
    package, compiled = _package_copy(tmp_path)
    with (package / "dag.py").open("a") as source:
        source.write("\n# edited after the build\n")
    choice = core.choose({}, package, compiled)
    assert not choice.compiled and choice.folder is None
    assert "sources changed" in choice.reason


def test_a_build_for_another_python_or_no_build_runs_pure_python(tmp_path: Path) -> None:
    package, compiled = _package_copy(tmp_path)
    stamp = json.loads((compiled / core.STAMP_NAME).read_text())
    (compiled / core.STAMP_NAME).write_text(json.dumps({**stamp, "interpreter": "cpython-310"}))
    assert "another Python" in core.choose({}, package, compiled).reason
    (compiled / core.STAMP_NAME).write_text("{not json")
    assert "unreadable" in core.choose({}, package, compiled).reason
    (compiled / core.STAMP_NAME).unlink()
    assert "not built" in core.choose({}, package, compiled).reason


@pytest.mark.skipif(os.environ.get("PKG_PURE_PYTHON") == "1", reason="the run asked for pure")
def test_make_install_built_the_core_and_it_is_what_runs() -> None:
    """`make install` compiles it (gcc is on every machine this project supports): a build that
    silently failed would leave a slower engine and nothing else to notice it by."""
    assert core.CHOICE.compiled, core.CHOICE.reason
    assert native.COMPILED and core.describe() == "compiled (mypyc)"


def test_the_engine_tests_pass_on_the_pure_python_modules() -> None:
    """The pure modules are the source of truth and the fallback: the engine's tests, the
    property tests and the agreement with ../shared/bench/reference.py run on them too."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/engine"],
        cwd=ROOT,
        env={**os.environ, "PKG_PURE_PYTHON": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_a_build_that_does_not_load_leaves_the_pure_modules(tmp_path: Path) -> None:
    """A stamp that matches beside a library that cannot load (a damaged file here): the
    package still imports, on the pure modules, and says why."""
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("_compiled"))
    compiled = tmp_path / "app" / "domain" / "_compiled"
    compiled.mkdir()
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    (compiled / f"compiled_core__mypyc{suffix}").write_bytes(b"not a shared library")
    (compiled / f"native{suffix}").write_bytes(b"not one either")
    (compiled / core.STAMP_NAME).write_text(json.dumps(core.stamp_for(tmp_path / "app/domain")))
    run = subprocess.run(
        [sys.executable, "-P", "-c", "from app.domain import core, native; print(core.describe())"],
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if k != "PKG_PURE_PYTHON"}, "PYTHONPATH": "."},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("pure Python (the build does not load:"), run.stdout
