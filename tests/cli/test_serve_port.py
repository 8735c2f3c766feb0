"""`pkgctl serve` on a port that is taken fails at once, before the migrations and the start-up
run: exit 2, one line naming host:port, and the database untouched."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from bench.server import ROOT


def test_serve_on_a_busy_port_exits_2_naming_it_before_migrating(tmp_path: Path) -> None:
    database = tmp_path / "pkg.db"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp_path / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
        }
        done = subprocess.run(
            [sys.executable, "-m", "app.entrypoints.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert not database.exists()  # no migration ran
