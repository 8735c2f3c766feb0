"""`pkgctl serve --workers 2`: both workers answer, hot-swap (through Redis, or embedded through
the short re-read of the active version), and `/metrics` sums what every worker counted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.server import ROOT, ServerProcess
from tests.integration.fleet.conftest import document, wait_until

WORKERS = 2
FACTS = {"tags": ["vip", "allergy_nuts"], "signals": {"urgency": 0.9}}


def sample(server: ServerProcess, name: str, **labels: str) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for metric in family.samples:
            if metric.name == name and all(metric.labels.get(k) == v for k, v in labels.items()):
                return float(metric.value)
    return 0.0


def log_tail(server: ServerProcess, lines: int = 40) -> str:
    if server.log_path is None or not server.log_path.exists():
        return "(no log)"
    return "\n".join(server.log_path.read_text(errors="replace").splitlines()[-lines:])


def evaluate_fresh(server: ServerProcess) -> httpx.Response:
    """On a new connection each time, so the kernel spreads them over the workers."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return client.post("/evaluate", json=FACTS)


@pytest.fixture(scope="module", params=["embedded", "redis"])
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp(f"workers-{request.param}")
    env = {
        "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/pkg.db",
        "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache"),
        "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
        "PKG_RECONCILE_INTERVAL_S": "3600",  # only the feed, or the worker sync, can swap
        "PKG_HEARTBEAT_INTERVAL_S": "3600",
        "PKG_LOG_LEVEL": "INFO",  # uvicorn's supervisor says at INFO when a worker died
        "PYTHONFAULTHANDLER": "1",  # and a worker that crashes prints its stack
    }
    if request.param == "redis":
        redis = request.getfixturevalue("redis_server")
        env["PKG_REDIS_URL"] = redis.start().url
        env["PKG_REDIS_CHANNEL"] = f"pkg_updates_{uuid.uuid4().hex[:8]}"
    server = ServerProcess(env, args=["--workers", str(WORKERS)], log_path=tmp / "server.log")
    server.start(timeout=120)
    try:
        # ready means one worker answers; every worker counts one swap when it starts
        wait_until(lambda: sample(server, "pkg_hotswap_count_total") == WORKERS, within=60)
        yield server
    finally:
        server.stop()


def test_every_worker_hot_swaps_and_metrics_sum_across_workers(
    workers: ServerProcess,
) -> None:
    before = sample(workers, "pkg_evaluation_duration_seconds_count", engine="native")
    decided = {"engine": "native", "lane": "active", "outcome": "matched"}
    decisions_before = sample(workers, "pkg_decisions_total", **decided)
    answers = [evaluate_fresh(workers) for _ in range(30)]
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["snapshot"] for a in answers} == {"hotel-ops@1.0.0"}
    # each worker counts its own and folds its tallies in every second; /metrics shows the sum
    wait_until(
        lambda: sample(workers, "pkg_decisions_total", **decided) - decisions_before >= 30,
        within=10,
    )
    after = sample(workers, "pkg_evaluation_duration_seconds_count", engine="native")
    assert after - before == 30
    assert sample(workers, "pkg_decisions_total", **decided) - decisions_before == 30
    route = {"method": "POST", "route": "/evaluate", "status": "200"}
    assert sample(workers, "pkg_http_requests_total", **route) >= 30

    swaps = sample(workers, "pkg_hotswap_count_total")
    with httpx.Client(base_url=workers.url, timeout=30) as admin:
        assert admin.post("/snapshots", json=document("workers@2")).status_code == 201
        body = {"version": "workers@2", "force": True}
        assert admin.post("/promotions", json=body).status_code == 201
    # a promotion made through one worker reaches every worker: each counts one more swap
    wait_until(lambda: sample(workers, "pkg_hotswap_count_total") == swaps + WORKERS, within=30)
    served = {evaluate_fresh(workers).json()["snapshot"] for _ in range(30)}
    assert served == {"workers@2"}
    active = sample(workers, "pkg_active_version", version="workers@2")
    old = sample(workers, "pkg_active_version", version="hotel-ops@1.0.0")
    assert (active, old) == (1.0, 0.0)


def test_promotions_under_load_never_fail_a_request(workers: ServerProcess) -> None:
    """A bounded loop: promote back and forth while requests keep coming; every answer is a
    decision by one of the two versions."""
    versions = ["under-load@a", "under-load@b"]
    statuses: list[int] = []
    served: set[str] = set()

    async def load(client: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            response = await client.post("/evaluate", json=FACTS)
            statuses.append(response.status_code)
            if response.status_code == 200:
                served.add(response.json()["snapshot"])

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=16)
        async with (
            httpx.AsyncClient(base_url=workers.url, timeout=30, limits=limits) as client,
            httpx.AsyncClient(base_url=workers.url, timeout=30) as admin,
        ):
            for version in versions:
                created = await admin.post("/snapshots", json=document(version))
                assert created.status_code == 201, created.text
            promoted: list[int] = []
            for round_index in range(8):
                body: dict[str, Any] = {"version": versions[round_index % 2], "force": True}
                loaders = [asyncio.create_task(load(client, 15)) for _ in range(8)]
                promoted.append((await admin.post("/promotions", json=body)).status_code)
                await asyncio.gather(*loaders)
            return promoted

    try:
        promoted = asyncio.run(run())
    except httpx.HTTPError as exc:  # a dropped connection: show what the server said
        raise AssertionError(f"{exc!r}; the server's log ends:\n{log_tail(workers)}") from exc
    assert promoted == [201] * 8
    assert len(statuses) == 8 * 8 * 15 and set(statuses) == {200}
    assert served <= {"workers@2", *versions} and served & set(versions)


def test_the_metrics_directory_is_cleaned_at_start(tmp_path: Path) -> None:
    from app.entrypoints.server.serve import metrics_directory

    stale = tmp_path / "counter_12345.db"
    stale.write_bytes(b"old values")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        with metrics_directory() as path:
            assert path == tmp_path and not stale.exists()
    assert tmp_path.exists()  # a directory the operator gave is kept
