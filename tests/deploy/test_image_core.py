"""The image's builder stage compiles the decision core into the installed (non-editable)
package and ships no compiler: the same steps as the Dockerfile's, run here without Docker."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from bench.server import ROOT

UV = ROOT / ".uv" / "bin" / "uv"


def run(*args: str | Path, env: dict[str, str], cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_the_dockerfile_compiles_the_core_in_the_builder_stage_only() -> None:
    text = (ROOT / "Dockerfile").read_text()
    build, runtime = text.split("\nFROM python:3.11-slim\n")
    assert "apt-get install -y --no-install-recommends gcc" in build
    assert "scripts/build_core.py" in build and "--extra compile" in build
    assert "gcc" not in runtime and "/opt/build" not in runtime
    assert re.search(r"COPY --from=build /opt/pkg /opt/pkg", runtime)


def test_the_builder_steps_give_an_installed_package_that_loads_its_compiled_core(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PKG_PURE_PYTHON")}
    service, builder = tmp_path / "pkg", tmp_path / "build"
    fresh = ("--reinstall-package", "pkg-service")  # this tree, not a wheel uv built before
    run(
        UV, "sync", "-q", "--frozen", "--no-editable", *fresh,
        env={**env, "UV_PROJECT_ENVIRONMENT": str(service)},
    )  # fmt: skip
    run(
        UV, "sync", "-q", "--frozen", "--no-editable", "--extra", "compile", *fresh,
        env={**env, "UV_PROJECT_ENVIRONMENT": str(builder)},
    )  # fmt: skip
    site = service / "lib" / "python3.11" / "site-packages"
    run(
        builder / "bin" / "python",
        "scripts/build_core.py",
        "--into",
        site / "app/domain/_compiled",
        env=env,
    )
    assert not (service / "bin" / "mypyc").exists()  # the compiler stays in the builder's venv
    loaded = run(
        service / "bin" / "python", "-P", "-c",
        "from app.domain import core, native; print(native.__file__); print(core.describe())",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    path, described = loaded.split()[0], loaded.strip().splitlines()[-1]
    assert path.startswith(str(site / "app/domain/_compiled/native.")) and path.endswith(".so")
    assert described == "compiled (mypyc)"
