"""A throwaway PostgreSQL cluster for the test session (a pytest plugin, see tests/conftest.py).

`postgres_server` starts one cluster on a free loopback port (trust auth, fsync off, sockets in
its own temp dir); `pg_url` is one migrated database shared by a session; `db_url` gives each
test a fresh database, on SQLite and on PostgreSQL (cloned from a migrated template, so every
test also runs on migrations). A missing PostgreSQL installation fails loudly: never a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.adapters.db.migrations import upgrade_to_head

TEMPLATE_DB = "pkg_template"
START_TIMEOUT_S = 30.0


def _find_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    pytest.fail(
        "PostgreSQL is not installed: the integration tests need initdb/pg_ctl "
        "(apt-get install postgresql, or put its bin directory on PATH)",
        pytrace=False,
    )


def _major(directory: str) -> int:
    try:
        return int(Path(directory).parent.name.split(".")[0])
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One cluster: `url(db)`, `create_database`, and `stop`/`start` on the same port and data."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "sockets"
        self.log_file = root / "postgres.log"
        self.port = _free_port()
        self.running = False

    # ------------------------------------------------------------------ processes
    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(f"{what} failed: {result.stdout}\n{result.stderr}\n{log[-4000:]}")

    def init(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        result = self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-locale",
        )  # fmt: skip  # one line per option group reads like the shell command
        self._check(result, "initdb")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        result = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
            "-w", "-t", str(int(START_TIMEOUT_S)), "start",
        )  # fmt: skip  # one line per option group reads like the shell command
        self._check(result, "pg_ctl start")
        self.running = True
        self._wait_ready()

    def stop(self) -> None:
        if not self.running:
            return
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        self._check(result, "pg_ctl stop")
        self.running = False

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not accept connections on port {self.port}")

    # ------------------------------------------------------------------ databases
    def url(self, dbname: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, *, dbname: str = "postgres") -> str:
        result = self._run(
            "psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres",
            "-d", dbname, "-v", "ON_ERROR_STOP=1", "-Atc", sql,
        )  # fmt: skip  # one line per option group reads like the shell command
        self._check(result, f"psql {sql!r}")
        return result.stdout

    def create_database(self, name: str, *, template: str | None = None) -> None:
        clause = f" TEMPLATE {template}" if template else ""
        self.psql(f'CREATE DATABASE "{name}"{clause}')

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="pkg-pg-"))
    server = PostgresServer(bin_dir, root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def pg_url(postgres_server: PostgresServer) -> str:
    """One migrated database for the session (tests that share it must not assume it's empty)."""
    name = _unique("pkg_session")
    postgres_server.create_database(name)
    asyncio.run(upgrade_to_head(postgres_server.url(name)))
    return postgres_server.url(name)


@pytest.fixture(scope="session")
def pg_template(postgres_server: PostgresServer) -> str:
    """A migrated database that `db_url` clones (CREATE DATABASE ... TEMPLATE is fast)."""
    postgres_server.create_database(TEMPLATE_DB)
    asyncio.run(upgrade_to_head(postgres_server.url(TEMPLATE_DB)))
    return TEMPLATE_DB


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, isolated database per test, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'pkg.db'}"
        asyncio.run(upgrade_to_head(url))
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("pg_template")
    name = _unique("pkg_test")
    server.create_database(name, template=template)
    yield server.url(name)
    if server.running:
        server.drop_database(name)
