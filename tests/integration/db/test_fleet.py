"""Canary lanes and coverage on a small fleet."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from app.adapters.db import PKGClient
from app.domain.errors import NotFoundError
from tests.integration.db.conftest import make_document

pytestmark = pytest.mark.integration


async def _fleet(client: PKGClient) -> dict[str, int]:
    """v1 active, v2 canary; doors in eu (2 on v2, 1 on v1), a router in eu on v2."""
    ids = {}
    for version in ("rules@1.0.0", "rules@2.0.0"):
        ids[version] = (await client.create_snapshot(make_document(version))).id
    await client.promote("rules@1.0.0", env="prod", actor="t", force=True)
    for device, kind, version in (
        ("door:1", "door", "rules@2.0.0"),
        ("door:2", "door", "rules@2.0.0"),
        ("door:3", "door", "rules@1.0.0"),
        ("router:1", "router", "rules@2.0.0"),
    ):
        await client.update_device_heartbeat(device, kind, version=version, region="eu")
    await client.update_device_heartbeat("door:9", "door", version="rules@2.0.0", region="us")
    return ids


async def test_coverage_counts_devices_per_lane(client: PKGClient) -> None:
    ids = await _fleet(client)
    door = await client.create_deployment(
        snapshot_version="rules@2.0.0", target="edge:door", region="eu", percent=10
    )
    router = await client.create_deployment(
        snapshot_version="rules@2.0.0", target="router", region="eu", percent=50
    )
    empty = await client.create_deployment(
        snapshot_version="rules@2.0.0", target="edge:robot", region="eu", percent=5
    )

    coverage = {c["deployment_id"]: c for c in await client.get_deployment_coverage()}

    assert coverage[door["id"]] == {
        "deployment_id": door["id"],
        "target": "edge:door",
        "region": "eu",
        "version": "rules@2.0.0",
        "snapshot_id": ids["rules@2.0.0"],
        "percent": 10,
        "devices_on_snapshot": 2,
        "devices_total": 3,
    }
    assert (
        coverage[router["id"]]["devices_on_snapshot"],
        coverage[router["id"]]["devices_total"],
    ) == (1, 1)
    assert (
        coverage[empty["id"]]["devices_on_snapshot"],
        coverage[empty["id"]]["devices_total"],
    ) == (0, 0)
    assert [c["target"] for c in await client.get_deployment_coverage(target="router")] == [
        "router"
    ]


async def test_deployments_are_created_updated_and_filtered(client: PKGClient) -> None:
    await _fleet(client)
    lane = await client.create_deployment(
        snapshot_version="rules@2.0.0", target="router", percent=20
    )

    moved = await client.update_deployment(lane["id"], percent=40, snapshot_version="rules@1.0.0")
    closed = await client.update_deployment(lane["id"], is_active=False)

    assert lane["region"] == "global" and lane["version"] == "rules@2.0.0"
    assert moved["percent"] == 40 and moved["version"] == "rules@1.0.0"
    assert closed["is_active"] is False and closed["updated_at"] >= lane["updated_at"]
    assert await client.get_deployments() == []
    assert [d["id"] for d in await client.get_deployments(active_only=False)] == [lane["id"]]
    with pytest.raises(NotFoundError):
        await client.update_deployment(999_999, percent=1)
    with pytest.raises(NotFoundError):
        await client.create_deployment(snapshot_version="nope", target="router", percent=1)


async def test_percent_outside_0_100_is_refused_by_the_database(client: PKGClient) -> None:
    await _fleet(client)

    with pytest.raises(IntegrityError):
        await client.create_deployment(snapshot_version="rules@2.0.0", target="r", percent=101)
