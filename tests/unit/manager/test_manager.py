"""PKGManager against in-memory collaborators (fakes, not mocks): assertions are on state."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from app.adapters.bus.memory import InProcessBus
from app.adapters.snapshot_cache import FileSnapshotCache
from app.domain.change import ACTIVATE, DEPLOYMENTS_CHANGED, ChangeMessage
from app.domain.errors import StoreUnavailableError
from app.domain.snapshot import PKGSnapshotData, encode_value, native_checksum, normalise_rules
from app.services.manager import PKGManager
from tests.polling import eventually


def make_snapshot(version: str, *, snapshot_id: int = 1, env: str = "prod") -> PKGSnapshotData:
    rules = [
        {
            "id": f"rule-{version}",
            "rule_name": "always",
            "priority": 100,
            "disabled": False,
            "metadata": {},
            "conditions": [
                {
                    "condition_type": "TAG",
                    "condition_key": "vip",
                    "operator": "EXISTS",
                    "value": None,
                    "position": 0,
                },
            ],
            "emissions": [
                {
                    "subtask_type": "notify",
                    "name": f"notify_{version}",
                    "relationship_type": "EMITS",
                    "params": {"v": version},
                    "position": 0,
                },
            ],
        }
    ]
    types = {"notify": {"default_params": {"channel": encode_value("pager")}}}
    return PKGSnapshotData(
        id=snapshot_id,
        version=version,
        engine="native",
        wasm_artifact=None,
        checksum=native_checksum(rules, types),
        rules=normalise_rules(rules),
        env=env,
        subtask_types=types,
    )


class FakeStore:
    """The database as the manager sees it, with a switch to make it unreachable."""

    def __init__(self) -> None:
        self.snapshots: dict[str, PKGSnapshotData] = {}
        self.active: dict[str, str] = {}
        self.down = False
        self.heartbeats: list[dict[str, Any]] = []
        self.deployments: list[dict[str, Any]] = []
        self.version_reads = 0

    def add(self, version: str, *, active: bool = False, env: str = "prod") -> None:
        self.snapshots[version] = make_snapshot(
            version, snapshot_id=len(self.snapshots) + 1, env=env
        )
        if active:
            self.active[env] = version

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailableError("connection refused")

    async def get_snapshot_by_version(self, version: str) -> PKGSnapshotData | None:
        self._check()
        return self.snapshots.get(version)

    async def get_active_version(self, env: str) -> str | None:
        self._check()
        self.version_reads += 1
        return self.active.get(env)

    async def get_deployments(
        self,
        snapshot_id: int | None = None,
        target: str | None = None,
        region: str | None = None,
        active_only: bool = True,
    ) -> list[dict[str, Any]]:
        self._check()
        return list(self.deployments)

    async def update_device_heartbeat(
        self,
        device_id: str,
        device_type: str,
        snapshot_id: int | None = None,
        version: str | None = None,
        region: str = "global",
    ) -> None:
        self._check()
        self.heartbeats.append(
            {
                "device_id": device_id,
                "device_type": device_type,
                "version": version,
                "region": region,
            }
        )


def served(manager: PKGManager) -> str | None:
    evaluator = manager.get_active_evaluator()
    if evaluator is None:
        return None
    return str(evaluator.evaluate({"tags": ["vip"]})["subtasks"][0]["params"]["v"])


async def subscribed(store: FakeStore) -> None:
    """Wait for the listener's reconcile on subscribe (the start-up one read the DB first)."""
    await eventually(lambda: store.version_reads >= 2)


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.add("v1", active=True)
    store.add("v2")
    store.add("v3")
    return store


def manager_for(store: FakeStore, tmp_path: Path, **kwargs: Any) -> PKGManager:
    options: dict[str, Any] = {
        "reconcile_interval_s": 3600,
        "heartbeat_interval_s": 3600,
        "cache": FileSnapshotCache(tmp_path),
    }
    options.update(kwargs)
    return PKGManager(store, InProcessBus(), **options)


async def test_start_serves_the_databases_active_version_and_is_healthy(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(store, tmp_path) as manager:
        assert served(manager) == "v1"
        health = manager.get_health_status()
        assert health["healthy"] and not health["degraded_mode"]
        assert health["db_connected"] and health["db_active_version"] == "v1"
        assert health["active_version"] == "v1"
        assert manager.get_metadata()["cached_versions"] == ["v1"]


async def test_an_activate_message_swaps_and_the_override_lasts_until_the_db_changes(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(store, tmp_path) as manager:
        await manager.publish(ChangeMessage(ACTIVATE, version="v2"))
        await eventually(lambda: served(manager) == "v2")
        await manager.reconcile()
        assert served(manager) == "v2"  # the DB still says v1, as it did last time we looked
        store.active["prod"] = "v3"
        await manager.reconcile()
        assert served(manager) == "v3"


async def test_an_override_published_right_after_a_promotion_survives_the_next_reconcile(
    store: FakeStore, tmp_path: Path
) -> None:
    # issue 16 item 4: promote v2 (the DB changes, the replica activates it as the API does),
    # then an operator publishes `activate:v1`; the DB's active version has not changed since
    async with manager_for(store, tmp_path) as manager:
        await subscribed(store)
        store.active["prod"] = "v2"
        assert await manager.activate("v2", source="api")
        await manager.publish(ChangeMessage(ACTIVATE, version="v1"))
        await eventually(lambda: served(manager) == "v1")
        await manager.reconcile()
        assert served(manager) == "v1"
        assert manager.get_health_status()["db_active_version"] == "v2"
        store.active["prod"] = "v3"  # the override lasts until the DB's active version changes
        await manager.reconcile()
        assert served(manager) == "v3"


async def test_an_override_after_a_promotion_heard_on_the_feed_also_lasts(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(store, tmp_path) as manager:  # a replica that did not take the write
        await subscribed(store)
        store.active["prod"] = "v2"
        await manager.publish(ChangeMessage(ACTIVATE, version="v2"))
        await eventually(lambda: served(manager) == "v2")
        await manager.publish(ChangeMessage(ACTIVATE, version="v3"))
        await eventually(lambda: served(manager) == "v3")
        await manager.reconcile()
        assert served(manager) == "v3"


async def test_a_snapshot_that_fails_its_checksum_keeps_the_previous_evaluator(
    store: FakeStore, tmp_path: Path
) -> None:
    store.snapshots["v2"] = dataclasses.replace(store.snapshots["v2"], checksum="0" * 64)
    async with manager_for(store, tmp_path) as manager:
        assert not await manager.activate("v2", source="test")
        assert served(manager) == "v1"
        health = manager.get_health_status()
        assert not health["healthy"] and health["degraded_mode"]
        assert "ChecksumMismatchError" in health["last_error"]
        assert await manager.activate("v3", source="test")
        assert manager.get_health_status()["healthy"] and served(manager) == "v3"


async def test_an_unknown_version_changes_nothing_but_health(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(store, tmp_path) as manager:
        assert not await manager.activate("v404", source="test")
        assert served(manager) == "v1"
        assert "v404" in manager.get_health_status()["last_error"]


async def test_the_lru_holds_three_and_never_evicts_the_active_one(
    store: FakeStore, tmp_path: Path
) -> None:
    for version in ("v4", "v5"):
        store.add(version)
    async with manager_for(store, tmp_path) as manager:
        for version in ("v2", "v3", "v4", "v5"):
            await manager.load_evaluator(version)
        cached = manager.get_metadata()["cached_versions"]
        assert len(cached) == 3 and "v1" in cached
        assert served(manager) == "v1"
        assert manager.get_evaluator_by_version("v5") is not None
        assert manager.get_evaluator_by_version("v2") is None


async def test_with_the_database_down_it_starts_from_the_last_known_good_snapshot(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(store, tmp_path) as manager:
        assert served(manager) == "v1"
    store.down = True
    async with manager_for(store, tmp_path) as manager:
        assert served(manager) == "v1"
        health = manager.get_health_status()
        assert health["degraded_mode"] and not health["db_connected"]
        assert "database unreachable" in health["last_error"]
        assert manager.get_metadata()["served_from_cache"]
        store.down = False
        store.active["prod"] = "v2"
        await manager.reconcile()
        assert served(manager) == "v2"
        assert not manager.get_health_status()["degraded_mode"]


async def test_a_cached_start_stops_being_degraded_when_the_same_version_is_active_again(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(store, tmp_path) as manager:
        assert served(manager) == "v1"
    store.down = True
    async with manager_for(store, tmp_path) as manager:
        assert manager.get_metadata()["served_from_cache"]
        store.down = False
        await manager.reconcile()
        assert served(manager) == "v1"
        assert not manager.get_metadata()["served_from_cache"]
        assert not manager.get_health_status()["degraded_mode"]


async def test_with_the_database_down_and_no_cache_it_waits_and_then_converges(
    store: FakeStore, tmp_path: Path
) -> None:
    store.down = True
    async with manager_for(store, tmp_path, reconcile_interval_s=0.01) as manager:
        assert manager.get_active_evaluator() is None
        store.down = False
        await eventually(lambda: served(manager) == "v1")


async def test_messages_for_another_env_are_ignored(store: FakeStore, tmp_path: Path) -> None:
    async with manager_for(store, tmp_path) as manager:
        await manager.publish(ChangeMessage(ACTIVATE, version="v2", env="staging"))
        await manager.publish(ChangeMessage(ACTIVATE, version="v3", env="prod"))
        await eventually(lambda: served(manager) == "v3")
        assert "v2" not in manager.get_metadata()["cached_versions"]


async def test_a_replica_reports_itself_as_a_pkg_service_device(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(
        store, tmp_path, instance_id="r1", heartbeat_interval_s=0.01, region="eu-west"
    ) as manager:
        await eventually(lambda: bool(store.heartbeats))
        beat = store.heartbeats[-1]
        assert beat["device_id"] == "pkg-service:r1"
        assert (beat["device_type"], beat["version"], beat["region"]) == (
            "pkg-service",
            "v1",
            "eu-west",
        )
        assert manager.started


async def test_canary_lanes_route_callers_and_refresh_on_deployments_changed(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(store, tmp_path) as manager:
        store.deployments = [
            {
                "id": 1,
                "target": "router",
                "region": "global",
                "percent": 100,
                "is_active": True,
                "snapshot_version": "v2",
            }
        ]
        evaluator, route = await manager.route(target="router", region="eu", subject="x")
        assert route.lane == "active"  # not told yet
        await manager.publish(ChangeMessage(DEPLOYMENTS_CHANGED))
        await eventually(lambda: bool(manager.deployments))
        evaluator, route = await manager.route(target="router", region="eu", subject="x")
        assert route.lane == "canary" and evaluator is not None and evaluator.version == "v2"
        assert served(manager) == "v1"


async def test_a_raw_activate_for_a_snapshot_of_another_env_is_refused(
    store: FakeStore, tmp_path: Path
) -> None:
    store.add("s1", env="staging")
    async with manager_for(store, tmp_path) as manager:
        assert not await manager.activate("s1", source="redis")
        assert served(manager) == "v1"
        assert "belongs to env staging" in manager.get_health_status()["last_error"]
