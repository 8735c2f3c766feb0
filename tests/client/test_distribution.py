"""pkg-client ships on its own: the wheel of clients/python needs httpx only, carries
`py.typed`, imports none of the server, and `mypy --strict` in a user's project (a fresh venv
with only the wheel and its dependencies) reads its types."""

from __future__ import annotations

import email
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pkg_client
import pytest

from bench.server import ROOT

UV = ROOT / ".uv" / "bin" / "uv"
SERVER_MODULES = ["app", "fastapi", "starlette", "pydantic", "sqlalchemy", "wasmtime", "re2"]

USER_CODE = """
from pkg_client import AsyncPKGHttpClient, Decision, PKGError, PKGHttpClient


def subtasks(url: str) -> list[str]:
    with PKGHttpClient(url, token="t") as pkg:
        decision: Decision = pkg.evaluate({"tags": ["vip"]}, subject="guest-42")
        lane = pkg.open_deployment("v@2", target="router", percent=5, mode="shadow")
        pkg.promote("v@2", guard={"max_divergence": 0.02}, on_behalf_of="alice")
        shadow = pkg.shadow_report(lane["id"])["totals"]["divergence"]
        print(shadow, pkg.guard(1)["status"], pkg.snapshots()[0]["version"])
        return [subtask["name"] for subtask in decision["subtasks"]]


async def ready(url: str) -> bool:
    async with AsyncPKGHttpClient(url) as pkg:
        try:
            return await pkg.ready()
        except PKGError as exc:
            return exc.status == 503
"""
WRONG_CODE = """
from pkg_client import PKGHttpClient

with PKGHttpClient("http://x") as pkg:
    version: int = pkg.evaluate({})["snapshot"]
    pkg.promote("v@2", guard={"max_divergense": 0.02})
"""


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
    for name in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"):
        env.pop(name, None)
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = run(UV, "build", "--wheel", "-q", ROOT / "clients" / "python", "-o", out, cwd=out)
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("pkg_client-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and what it depends on, nothing else."""
    home = tmp_path_factory.mktemp("user")
    made = run(UV, "venv", "-q", "--python", sys.executable, home / "venv", cwd=home)
    assert made.returncode == 0, made.stderr
    python = home / "venv" / "bin" / "python"
    installed = run(UV, "pip", "install", "-q", "--python", python, wheel, cwd=home)
    assert installed.returncode == 0, installed.stderr
    return python


def test_the_wheel_needs_httpx_only_and_is_typed(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_string(archive.read(metadata).decode())
    assert meta["Name"] == "pkg-client" and meta["Version"] == pkg_client.__version__
    assert meta.get_all("Requires-Dist") == ["httpx>=0.27"]
    assert "pkg_client/py.typed" in names
    assert not [n for n in names if n.startswith("app/")]


def test_importing_the_client_imports_none_of_the_server(venv: Path) -> None:
    probe = textwrap.dedent(
        f"""
        import importlib.util, sys
        import pkg_client
        assert pkg_client.PKGHttpClient
        print(sorted(m for m in {SERVER_MODULES!r} if m in sys.modules))
        print(sorted(m for m in {SERVER_MODULES!r} if importlib.util.find_spec(m)))
        """
    )
    answer = run(venv, "-c", probe, cwd=venv.parent.parent)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split("\n")[:2] == ["[]", "[]"]  # not imported, not even installed


def test_mypy_strict_in_a_users_project_reads_the_clients_types(venv: Path) -> None:
    project = venv.parent.parent
    (project / "user.py").write_text(USER_CODE)
    (project / "wrong.py").write_text(WRONG_CODE)
    mypy = Path(sys.executable).with_name("mypy")
    options: list[str | Path] = ["--strict", "--no-incremental", "--python-executable", venv]

    good = run(mypy, *options, "user.py", cwd=project)
    assert good.returncode == 0, good.stdout + good.stderr

    bad = run(mypy, *options, "wrong.py", cwd=project)
    assert bad.returncode == 1, bad.stdout
    assert 'expression has type "str | None", variable has type "int"' in bad.stdout
    assert 'expected "Guard | None"' in bad.stdout  # the misspelt guard key
