"""Two real `pkgctl serve` processes sharing the harness's PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.adapters.db.migrations import upgrade_to_head
from bench.server import ROOT, ServerProcess

ADMIN = "fleet-admin-token"
HEADERS = {"Authorization": f"Bearer {ADMIN}"}
RECONCILE_S = 2.0
# what a correct replica may take on top of the mechanism's own period (a reconcile, a flush, a
# heartbeat) to converge on a loaded machine: a bound no correct run misses, not a speed target
SETTLE_S = 30.0


def document(version: str) -> dict[str, Any]:
    """The demo policy under another version name (same rules, so its fixtures pass)."""
    source = "hotel_ops_v2.yaml" if version.endswith(("2", "4")) else "hotel_ops.yaml"
    body: dict[str, Any] = yaml.safe_load((ROOT / "examples" / source).read_text())
    body = copy.deepcopy(body)
    body["version"] = version
    return body


def wait_until(predicate: Callable[[], object], *, within: float, every: float = 0.02) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s")
        time.sleep(every)


@dataclass
class Replica:
    name: str
    server: ServerProcess

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=HEADERS, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, headers=HEADERS, timeout=10, **kwargs)

    def serves(self) -> str | None:
        try:
            response = self.post("/evaluate", json={})
        except httpx.HTTPError:
            return None
        return response.json().get("snapshot") if response.status_code == 200 else None

    def metadata(self) -> dict[str, Any]:
        body: dict[str, Any] = self.get("/metadata").json()
        return body

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = self.get("/health").json()
        return body


@dataclass
class Fleet:
    a: Replica
    b: Replica
    postgres: Any
    redis: Any
    env: dict[str, str]  # the replicas' PKG_* settings
    tmp: Path

    def push(self, version: str, *, via: Replica | None = None) -> None:
        replica = via or self.a
        created = replica.post("/snapshots", json=document(version))
        assert created.status_code == 201, created.text
        run = replica.post("/validation/runs", json={"version": version})
        assert run.status_code == 201 and run.json()["success"], run.text

    def promote(self, version: str, *, via: Replica | None = None) -> float:
        """Promote and return the wall-clock time the response came back (after commit)."""
        response = (via or self.a).post("/promotions", json={"version": version})
        assert response.status_code == 201, response.text
        return time.monotonic()


def _replica(name: str, env: dict[str, str], tmp: Path) -> Replica:
    own = {**env, "PKG_INSTANCE_ID": name, "PKG_SNAPSHOT_CACHE_DIR": str(tmp / name / "cache")}
    server = ServerProcess(own, log_path=tmp / f"{name}.log")
    return Replica(name, server.start(wait_ready=False))


@pytest.fixture(scope="module")
def fleet(
    postgres_server: Any, redis_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("fleet")
    database = f"fleet_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(database)
    db_url = postgres_server.url(database)
    asyncio.run(upgrade_to_head(db_url))
    env = {
        "PKG_DATABASE_URL": db_url,
        "PKG_REDIS_URL": redis_server.url,
        "PKG_ENV": "prod",
        "PKG_AUTO_MIGRATE": "false",
        "PKG_RECONCILE_INTERVAL_S": str(RECONCILE_S),
        "PKG_HEARTBEAT_INTERVAL_S": "1",
        "PKG_DB_TIMEOUT_S": "2",
        "PKG_ADMIN_TOKENS": ADMIN,
        "PKG_LOG_LEVEL": "INFO",
        "PKG_SHADOW_FLUSH_INTERVAL_S": "0.5",
        "PKG_GUARD_INTERVAL_S": "0.5",
    }
    a, b = _replica("a", env, tmp), _replica("b", env, tmp)
    try:
        for replica in (a, b):
            replica.server.wait(path="/health")
        fleet = Fleet(a, b, postgres_server, redis_server, env, tmp)
        fleet.push("fleet@1")
        fleet.promote("fleet@1")
        wait_until(lambda: b.serves() == "fleet@1", within=RECONCILE_S + SETTLE_S)
        yield fleet
    finally:
        a.server.stop()
        b.server.stop()
