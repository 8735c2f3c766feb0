"""Rollout certainty on a real two-replica fleet (issue 25): `GET /fleet`, `pkgctl promote
--wait`, and `PKG_MAX_STALENESS_S` when a replica loses PostgreSQL and Redis.

Replica `a` talks to the harness's PostgreSQL and Redis directly; replica `b` reaches both
through a TCP proxy the tests cut (every connection reset, new ones refused) and restore, so
`b` loses its database and its change feed while it still answers HTTP, as behind a network
partition. `b` runs with `PKG_MAX_STALENESS_S` and `PKG_STALE_POLICY=fail-closed`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.adapters.db.migrations import upgrade_to_head
from app.entrypoints.cli import cli
from tests.integration.fleet.conftest import (
    ADMIN,
    RECONCILE_S,
    SETTLE_S,
    Replica,
    _replica,
    document,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MAX_STALENESS_S = 5.0
HEARTBEAT_S = 1.0
STALE_AFTER_S = MAX_STALENESS_S + HEARTBEAT_S  # as /fleet judges it from the heartbeat rows
runner = CliRunner()


class TcpProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target`; `cut()` resets every connection and
    refuses new ones until `restore()`."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # a blocked accept() returns: the port refuses connections
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for each in sockets:
            _close(each)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                downstream.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _close(downstream)
                    _close(upstream)
                    continue
                self._sockets |= {downstream, upstream}
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


@dataclass
class CutFleet:
    a: Replica
    b: Replica
    proxies: tuple[TcpProxy, TcpProxy]  # PostgreSQL, Redis

    def cut_b(self) -> None:
        for proxy in self.proxies:
            proxy.cut()

    def restore_b(self) -> None:
        for proxy in self.proxies:
            proxy.restore()

    def push(self, version: str) -> None:
        created = self.a.post("/snapshots", json=document(version))
        assert created.status_code == 201, created.text
        run = self.a.post("/validation/runs", json={"version": version})
        assert run.status_code == 201 and run.json()["success"], run.text

    def fleet(self, **params: Any) -> dict[str, Any]:
        response = self.a.get("/fleet", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def rows(self) -> dict[str, dict[str, Any]]:
        return {row["replica"]: row for row in self.fleet()["replicas"]}


@pytest.fixture(scope="module")
def cut_fleet(
    postgres_server: Any, redis_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CutFleet]:
    tmp: Path = tmp_path_factory.mktemp("cut-fleet")
    database = f"cut_fleet_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(database)
    asyncio.run(upgrade_to_head(postgres_server.url(database)))
    redis_server.start()
    proxies = (TcpProxy(postgres_server.port), TcpProxy(redis_server.port))
    env = {
        "PKG_DATABASE_URL": postgres_server.url(database),
        "PKG_REDIS_URL": redis_server.url,
        "PKG_ENV": "prod",
        "PKG_AUTO_MIGRATE": "false",
        "PKG_RECONCILE_INTERVAL_S": str(RECONCILE_S),
        "PKG_HEARTBEAT_INTERVAL_S": str(HEARTBEAT_S),
        "PKG_DB_TIMEOUT_S": "2",
        "PKG_ADMIN_TOKENS": ADMIN,
        "PKG_MAX_STALENESS_S": str(MAX_STALENESS_S),
        "PKG_REDIS_CHANNEL": f"pkg_updates_{database}",  # no other fleet's messages
    }
    cut_off = {
        **env,
        "PKG_DATABASE_URL": env["PKG_DATABASE_URL"].replace(
            f":{postgres_server.port}/", f":{proxies[0].port}/"
        ),
        "PKG_REDIS_URL": f"redis://127.0.0.1:{proxies[1].port}/0",
        "PKG_STALE_POLICY": "fail-closed",
    }
    a, b = _replica("a", env, tmp), _replica("b", cut_off, tmp)
    try:
        for replica in (a, b):
            replica.server.wait(path="/health")
        fleet = CutFleet(a, b, proxies)
        fleet.push("certain@1")
        assert a.post("/promotions", json={"version": "certain@1"}).status_code == 201
        wait_until(lambda: b.serves() == "certain@1", within=RECONCILE_S + SETTLE_S)
        yield fleet
    finally:
        a.server.stop()
        b.server.stop()
        for proxy in proxies:
            proxy.cut()


def pkgctl(fleet: CutFleet, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args), env={"PKG_URL": fleet.a.url, "PKG_TOKEN": ADMIN})
    return result.exit_code, result.output


def both_in_sync(fleet: CutFleet, version: str) -> bool:
    rows = fleet.rows()
    return set(rows) == {"a", "b"} and all(
        row["version"] == version and row["in_sync"] for row in rows.values()
    )


def test_fleet_lists_both_replicas_with_their_versions_and_lag(cut_fleet: CutFleet) -> None:
    wait_until(partial(both_in_sync, cut_fleet, "certain@1"), within=SETTLE_S)
    report = cut_fleet.fleet()
    assert report["converged"] is True and report["live"] == 2
    assert report["active_versions"] == {"prod": "certain@1"}
    assert report["stale_after_s"] == STALE_AFTER_S
    for name, row in cut_fleet.rows().items():
        assert row["device_id"] == f"pkg-service:{name}"
        assert (row["env"], row["active_version"], row["lag_s"]) == ("prod", "certain@1", 0.0)
        assert row["live"] is True and row["last_confirmed"]
    code, output = pkgctl(cut_fleet, "fleet", "--env", "prod")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split()[:3] == ["REPLICA", "ENV", "VERSION"]
    assert {line.split()[0] for line in lines[1:3]} == {"a", "b"}
    assert "2 live replica(s), converged" in output


def test_promote_wait_returns_once_both_replicas_serve_the_version(cut_fleet: CutFleet) -> None:
    cut_fleet.push("certain@2")
    code, output = pkgctl(cut_fleet, "promote", "certain@2", "--wait", "--timeout", "60s")
    assert code == 0, output
    assert "every live replica serves certain@2" in output
    # --wait's promise: when it returns, both replicas answer with the new version
    assert cut_fleet.a.serves() == "certain@2" and cut_fleet.b.serves() == "certain@2"


def test_a_replica_cut_off_from_postgres_and_redis_is_named_stale_and_fails_closed(
    cut_fleet: CutFleet,
) -> None:
    a, b = cut_fleet.a, cut_fleet.b
    cut_fleet.push("certain@3")
    wait_until(partial(both_in_sync, cut_fleet, "certain@2"), within=SETTLE_S)
    cut_fleet.cut_b()
    try:
        wait_until(lambda: not b.health()["db_connected"], within=RECONCILE_S + SETTLE_S)
        code, output = pkgctl(cut_fleet, "promote", "certain@3", "--wait", "--timeout", "3s")
        assert code == 1, output
        assert "1 replica(s) did not follow certain@3: b" in output
        assert "  b: serves certain@2" in output
        assert a.serves() == "certain@3"

        # /fleet: b is behind, lagging, and stale once its last confirmation is old enough
        wait_until(lambda: cut_fleet.rows()["b"]["stale"], within=STALE_AFTER_S + SETTLE_S)
        row = cut_fleet.rows()["b"]
        assert (row["version"], row["active_version"], row["in_sync"]) == (
            "certain@2",
            "certain@3",
            False,
        )
        assert row["live"] is True and row["lag_s"] > 0
        assert cut_fleet.fleet()["converged"] is False

        # b itself: unready, and no possibly old decision (fail-closed)
        wait_until(lambda: b.get("/health/ready").status_code == 503, within=SETTLE_S)
        ready = b.get("/health/ready").json()
        assert "PKG_MAX_STALENESS_S=5" in ready["detail"] and "database" in ready["detail"]
        refused = b.post("/evaluate", json={"tags": ["vip"]})
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert "has not confirmed its active version" in refused.json()["detail"]
        assert confirmation_age(b) > MAX_STALENESS_S
        assert confirmation_age(a) < confirmation_age(b)
        assert a.post("/evaluate", json={}).status_code == 200
    finally:
        cut_fleet.restore_b()
    wait_until(lambda: b.serves() == "certain@3", within=RECONCILE_S + SETTLE_S)
    assert b.get("/health/ready").status_code == 200
    code, output = pkgctl(cut_fleet, "rollback", "--wait", "--timeout", "60s")
    assert code == 0, output
    assert a.serves() == "certain@2" and b.serves() == "certain@2"


def confirmation_age(replica: Replica) -> float:
    for line in replica.get("/metrics").text.splitlines():
        if line.startswith("pkg_active_version_confirmation_age_seconds "):
            return float(line.split()[1])
    raise AssertionError("pkg_active_version_confirmation_age_seconds is not exported")
