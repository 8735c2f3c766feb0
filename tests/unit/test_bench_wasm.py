"""The wasm bench measures published OPA modules only when they are the files it names: its
blob ids are git's, so a clone's file matches the id its repository lists for it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.wasm import git_blob_id


def test_the_blob_id_is_the_one_git_gives_a_file(tmp_path: Path) -> None:
    module = tmp_path / "policy.wasm"
    module.write_bytes(b"\x00asm\x01\x00\x00\x00" + bytes(range(256)))
    listed = subprocess.run(
        ["git", "hash-object", str(module)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_blob_id(module.read_bytes()) == listed
