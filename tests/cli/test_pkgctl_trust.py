"""`pkgctl keygen`, `sign`, `push --key/--signature`, `export`, `import` and `audit verify`
against a real server that verifies signatures."""

from __future__ import annotations

import copy
import io
import json
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from app.entrypoints.cli import cli
from app.services.signing import Verifier
from bench.server import ROOT, ServerProcess

EXAMPLES = ROOT / "examples"
TOKEN = "cli-trust-token"
runner = CliRunner()


def pkgctl(*args: str, server: ServerProcess | None = None, **env: str) -> tuple[int, str]:
    base = {"PKG_URL": server.url, "PKG_TOKEN": TOKEN} if server else {}
    result = runner.invoke(cli, list(args), env={**base, **env})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    code, output = pkgctl("keygen", "-o", str(directory), "--name", "ci")
    assert code == 0, output
    assert json.loads(output)["key_id"]
    return directory


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys: Path) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("cli-trust")
    process = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache"),
            "PKG_ADMIN_TOKENS": f"ci:{TOKEN}",
            "PKG_VERIFY_KEYS": str(keys / "ci.pub.pem"),
            "PKG_LOG_LEVEL": "WARNING",
        },
        log_path=tmp / "server.log",
    )
    process.start(wait_ready=False)
    process.wait(path="/health")
    yield process
    process.stop()


def _policy(tmp_path: Path, version: str) -> Path:
    document = copy.deepcopy(yaml.safe_load((EXAMPLES / "hotel_ops.yaml").read_text()))
    document["version"] = version
    path = tmp_path / f"{version.replace('@', '-')}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_keygen_writes_a_private_key_only_its_owner_can_read(keys: Path) -> None:
    assert stat.S_IMODE((keys / "ci.pem").stat().st_mode) == 0o600
    assert (keys / "ci.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    code, output = pkgctl("keygen", "-o", str(keys), "--name", "ci")
    assert code == 2 and "refusing to overwrite" in output


def test_unsigned_pushes_are_refused_and_signed_ones_stored(
    server: ServerProcess, keys: Path, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "cli@1")
    code, output = pkgctl("push", str(policy), server=server)
    assert code == 2 and "signature missing" in output  # a 422: invalid input

    code, output = pkgctl("sign", str(policy), "--key", str(keys / "ci.pem"))
    assert code == 0, output
    assert json.loads(policy.with_name(policy.name + ".sig").read_text())["version"] == "cli@1"
    code, output = pkgctl("push", str(policy), "--signature", str(policy) + ".sig", server=server)
    assert code == 0, output

    code, output = pkgctl(
        "push",
        str(_policy(tmp_path, "cli@2")),
        "--json",
        server=server,
        PKG_SIGNING_KEY=str(keys / "ci.pem"),
    )
    assert code == 0, output
    (key_id,) = Verifier.from_specs([str(keys / "ci.pub.pem")]).key_ids
    assert json.loads(output)["signing_key_id"] == key_id


def test_export_then_import_and_audit_verify(
    server: ServerProcess, keys: Path, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "cli@3")
    assert pkgctl("push", str(policy), "--key", str(keys / "ci.pem"), server=server)[0] == 0
    bundle = tmp_path / "cli-3.tar.gz"
    code, output = pkgctl("export", "cli@3", "-o", str(bundle), server=server)
    assert code == 0, output
    with tarfile.open(fileobj=io.BytesIO(bundle.read_bytes()), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["fixtures.json", "pkg-bundle.json", "policy.json"]

    headers = {"Authorization": f"Bearer {TOKEN}"}
    deleted = httpx.delete(f"{server.url}/snapshots/cli@3", headers=headers, timeout=10)
    assert deleted.status_code == 204
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(bundle.read_bytes()[:200])
    code, output = pkgctl("import", str(truncated), server=server)
    assert code == 2 and "error 422" in output and "not a readable gzipped tar" in output
    code, output = pkgctl("import", str(bundle), server=server)
    assert code == 0, output
    again = tmp_path / "again.tar.gz"
    assert pkgctl("export", "cli@3", "-o", str(again), server=server)[0] == 0
    assert again.read_bytes() == bundle.read_bytes()

    assert pkgctl("validate", "cli@3", server=server)[0] == 0
    code, output = pkgctl("promote", "cli@3", "--actor", "someone-else", "--json", server=server)
    assert code == 0 and json.loads(output)["actor"] == "ci", output
    code, output = pkgctl("audit", "verify", server=server)
    assert code == 0 and json.loads(output)["ok"] is True, output
