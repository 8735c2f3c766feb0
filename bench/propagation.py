"""How fast a promotion reaches every replica, with Redis up and with Redis down, in one run.

    .venv/bin/python -m bench.propagation [--promotions 50] [--reconcile 5]

Starts a throwaway PostgreSQL and redis-server (the test harness's own launchers), two
`pkgctl serve` replicas on them, pushes and validates the demo policy under many versions, then
promotes them one after another through replica A. For each promotion it takes the promotion
row's `created_at` (inside the promotion transaction, so an upper bound on the lag) and each
replica's `active_since` (the wall clock of its swap; same machine, same clock) and reports
p50/p99 of the lag per replica. Then it stops Redis and does the same, where replicas must
converge by polling the database. Finally it promotes a 1000-rule snapshot (the shared bench
workload) and reports the load (fetch + verify + compile) and swap durations replica B saw.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.server import ROOT, ServerProcess
from tests.services.postgres import PostgresServer, _find_bin_dir
from tests.services.redis import RedisServer

TOKEN = "bench-admin-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def document(version: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "hotel_ops.yaml").read_text())
    body = copy.deepcopy(body)
    body["version"] = version
    return body


def workload_document(rules: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))
    import workload  # type: ignore[import-not-found]  # the shared bench, beside the project

    body: dict[str, Any] = workload.policy_document(rules)
    body["env"] = "prod"
    body["version"] = f"bench-{rules}-rules@1.0.0"
    return body


def call(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    response = httpx.request(method, url, headers=HEADERS, timeout=30, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def wait_for(predicate: Callable[[], bool], *, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not converged within {within}s")
        time.sleep(0.005)


def push(url: str, body: dict[str, Any]) -> None:
    call("POST", f"{url}/snapshots", json=body)
    call("POST", f"{url}/validation/runs", json={"version": body["version"]})


def promote_and_measure(
    version: str, a: str, replicas: dict[str, str], within: float, *, force: bool = False
) -> dict[str, float]:
    body = {"version": version, "reason": "bench", "force": force}
    promotion = call("POST", f"{a}/promotions", json=body)
    committed = datetime.fromisoformat(promotion["created_at"]).timestamp()
    lags: dict[str, float] = {}
    for name, url in replicas.items():
        wait_for(partial(serves, url, version), within=within)
        info = metadata(url)
        lags[name] = (float(info["active_since"]) - committed) * 1e3
        lags[f"{name}: of which load"] = float(info["last_load_duration_ms"])
    return lags


def serves(url: str, version: str) -> bool:
    return bool(metadata(url)["version"] == version)


def metadata(url: str) -> dict[str, Any]:
    return call("GET", f"{url}/metadata")


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"{label:<36} n={len(samples):<3} p50={statistics.median(samples):8.1f} ms  "
        f"p99={p99:8.1f} ms  max={ordered[-1]:8.1f} ms"
    )


def run(args: argparse.Namespace, tmp: Path, postgres: PostgresServer, redis: RedisServer) -> None:
    postgres.create_database("bench")
    env = {
        "PKG_DATABASE_URL": postgres.url("bench"),
        "PKG_REDIS_URL": redis.url,
        "PKG_RECONCILE_INTERVAL_S": str(args.reconcile),
        "PKG_HEARTBEAT_INTERVAL_S": "5",
        "PKG_ADMIN_TOKENS": TOKEN,
        "PKG_LOG_LEVEL": "WARNING",
    }
    servers = [
        ServerProcess(
            {**env, "PKG_INSTANCE_ID": name, "PKG_SNAPSHOT_CACHE_DIR": str(tmp / name)},
            log_path=tmp / f"{name}.log",
        )
        for name in ("a", "b")
    ]
    servers[0].start(wait_ready=False).wait(path="/health")  # A migrates first
    servers[1].start(wait_ready=False).wait(path="/health")
    try:
        a, b = servers[0].url, servers[1].url
        replicas = {"replica A (promoting)": a, "replica B": b}
        total = args.promotions + args.down_promotions
        versions = [f"bench@{i}" for i in range(total)]
        for version in versions:
            push(a, document(version))
        lags: dict[str, list[float]] = {}
        for version in versions[: args.promotions]:
            for name, lag in promote_and_measure(version, a, replicas, 10).items():
                lags.setdefault(name, []).append(lag)
        print(f"Redis up: promotion commit -> replica swapped ({args.promotions} promotions)")
        for name, samples in lags.items():
            print("  " + summary(name, samples))

        redis.stop()
        wait_for(lambda: not metadata(b)["redis_connected"], within=10)
        down: list[float] = []
        for version in versions[args.promotions :]:
            lags_down = promote_and_measure(version, a, {"replica B": b}, args.reconcile + 10)
            down.append(lags_down["replica B"])
        print(f"Redis down: replica B converges by polling (reconcile {args.reconcile} s)")
        print("  " + summary("replica B", down))
        redis.start()
        wait_for(lambda: bool(metadata(b)["redis_connected"]), within=120)

        big = workload_document(1000)
        push(a, big)
        promote_and_measure(big["version"], a, {"replica B": b}, 30, force=True)  # no fixtures
        info = metadata(b)
        print(
            f"1000-rule snapshot on replica B: load (fetch+verify+compile) "
            f"{info['last_load_duration_ms']} ms, swap {info['last_swap_duration_ms']} ms"
        )
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promotions", type=int, default=50)
    parser.add_argument("--down-promotions", type=int, default=5)
    parser.add_argument("--reconcile", type=float, default=5.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pkg-bench-"))
    tmp.chmod(0o755)  # PostgreSQL runs as `postgres` when we are root: it must reach its dir
    postgres = PostgresServer(_find_bin_dir(), tmp / "pg")
    (tmp / "redis").mkdir()
    redis = RedisServer(shutil.which("redis-server") or "redis-server", tmp / "redis")
    try:
        postgres.init()
        postgres.start()
        redis.start()
        run(args, tmp, postgres, redis)
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
