"""Start and stop real `pkgctl serve` processes for benchmarks and fleet tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One replica: `pkgctl serve` on a free loopback port with the given PKG_* environment."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)  # after `pkgctl serve`, e.g. --workers 2
    command: list[str] | None = None  # another server instead (`{port}` is filled in)
    ready_path: str = "/health/ready"

    @classmethod
    def embedded(cls, tmp: Path, **env: str) -> ServerProcess:
        """A replica on its own SQLite file and cache under `tmp`, logging to tmp/server.log."""
        base = {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache"),
            "PKG_LOG_LEVEL": "WARNING",
        }
        return cls({**base, **env}, log_path=tmp / "server.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait_ready: bool = True, timeout: float = 60.0) -> ServerProcess:
        env = {**os.environ, **self.env, "PKG_HOST": "127.0.0.1", "PKG_PORT": str(self.port)}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            command = [sys.executable, "-m", "app.entrypoints.cli", "serve", *self.args]
            if self.command is not None:
                command = [part.format(port=self.port) for part in self.command]
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
        finally:
            if not isinstance(log, int):
                log.close()  # the child has its own descriptor
        if wait_ready:
            self.wait(timeout=timeout)
        return self

    def wait(self, *, path: str | None = None, timeout: float = 60.0) -> None:
        path = path or self.ready_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.url}{path} not ready after {timeout}s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
