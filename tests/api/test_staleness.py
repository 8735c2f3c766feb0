"""PKG_MAX_STALENESS_S on both transports of /evaluate (the lean handler and the FastAPI
route), with the replica's clock moved forward instead of waiting: readiness, fail-closed and
serve-stale, and the confirmation-age gauge. The same with a real database taken away is in
tests/integration/fleet/test_rollout_certainty.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from time import monotonic
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.services.manager import PKGManager
from tests.api.conftest import AUTH, example, make_settings, push_and_promote

MAX_STALENESS_S = 30.0
LATER_S = 3 * MAX_STALENESS_S  # how far the tests move a replica's clock


class Replica:
    """One app with its lifespan running, and its manager's clock under the test's hand."""

    def __init__(self, api: httpx.AsyncClient, manager: PKGManager) -> None:
        self.api = api
        self.manager = manager
        self.offset = 0.0
        manager.freshness.clock = lambda: monotonic() + self.offset

    def later(self) -> None:
        """As if LATER_S passed without a confirmation."""
        self.offset += LATER_S


@pytest.fixture
async def replica_factory(db_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    contexts: list[Any] = []

    async def start(**overrides: Any) -> Replica:
        settings = make_settings(
            db_url, tmp_path, **{"max_staleness_s": MAX_STALENESS_S, **overrides}
        )
        app = create_app(settings)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        contexts.append(context)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
        api = httpx.AsyncClient(transport=transport, base_url="http://pkg.test", headers=AUTH)
        await push_and_promote(api, example("hotel_ops.yaml"))
        await heartbeat_done(api)
        return Replica(api, app.state.manager)

    yield start
    for context in reversed(contexts):
        await context.__aexit__(None, None, None)


async def heartbeat_done(api: httpx.AsyncClient) -> None:
    """The heartbeat after the promotion confirms, then writes its row: once the row is there,
    no confirmation is under way that could land after a test moved the clock."""
    deadline = monotonic() + 30
    while monotonic() < deadline:
        rows = (await api.get("/devices", params={"device_type": "pkg-service"})).json()
        if any(row["version"] == "hotel-ops@1.0.0" for row in rows):
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the replica's heartbeat did not arrive within 30s")


def confirmation_age(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("pkg_active_version_confirmation_age_seconds "):
            return float(line.split()[1])
    raise AssertionError("pkg_active_version_confirmation_age_seconds is not exported")


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "fastapi"])
async def test_a_stale_fail_closed_replica_is_unready_and_refuses_to_decide(
    replica_factory: Callable[..., Any], lean: bool
) -> None:
    replica: Replica = await replica_factory(lean_evaluate=lean, stale_policy="fail-closed")
    api = replica.api
    assert (await api.get("/health/ready")).status_code == 200
    assert (await api.post("/evaluate", json={"tags": ["vip"]})).status_code == 200

    replica.later()
    ready = await api.get("/health/ready")
    assert ready.status_code == 503
    assert "PKG_MAX_STALENESS_S=30" in ready.json()["detail"]
    for path, body in (("/evaluate", {"tags": ["vip"]}), ("/evaluate/batch", {"items": [{}]})):
        refused = await api.post(path, json=body)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "5"
        assert "has not confirmed its active version" in refused.json()["detail"]
    pinned = await api.post("/evaluate", params={"version": "hotel-ops@1.0.0"}, json={})
    assert pinned.status_code == 200  # a pinned version is what the caller asked for
    health = (await api.get("/health")).json()
    assert health["stale"] is True and health["status"] == "degraded"
    assert confirmation_age((await api.get("/metrics")).text) >= LATER_S

    await replica.manager.reconcile()  # a confirmation: fresh again
    assert (await api.get("/health/ready")).status_code == 200
    assert (await api.post("/evaluate", json={"tags": ["vip"]})).status_code == 200
    assert confirmation_age((await api.get("/metrics")).text) < LATER_S


async def test_a_stale_serve_stale_replica_is_unready_but_keeps_deciding(
    replica_factory: Callable[..., Any],
) -> None:
    replica: Replica = await replica_factory()  # PKG_STALE_POLICY defaults to serve-stale
    replica.later()
    assert (await replica.api.get("/health/ready")).status_code == 503
    decided = await replica.api.post("/evaluate", json={"tags": ["vip"]})
    assert decided.status_code == 200 and decided.json()["snapshot"] == "hotel-ops@1.0.0"
    metadata = (await replica.api.get("/metadata")).json()
    assert metadata["stale"] is True and metadata["stale_policy"] == "serve-stale"
    assert metadata["confirmation_age_s"] >= LATER_S


async def test_without_max_staleness_a_replica_is_never_stale(
    replica_factory: Callable[..., Any],
) -> None:
    replica: Replica = await replica_factory(max_staleness_s=None, stale_policy="fail-closed")
    replica.later()
    assert (await replica.api.get("/health/ready")).status_code == 200
    assert (await replica.api.post("/evaluate", json={})).status_code == 200
    assert confirmation_age((await replica.api.get("/metrics")).text) >= LATER_S
