"""The seed document's usage examples 1–4, run against our Python API (`from app import ...`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from app import (
    PKGClient,
    PKGEvaluator,
    PKGManager,
    get_global_pkg_manager,
    initialize_global_pkg_manager,
)
from app.domain.document import parse_policy_document
from app.entrypoints.http.lifespan import reset_global_pkg_manager
from app.settings import Settings
from tests.api.conftest import example
from tests.polling import eventually


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[PKGClient]:
    client = PKGClient(db_url, env="prod")
    for name in ("hotel_ops.yaml", "hotel_ops_v2.yaml"):
        await client.create_snapshot(parse_policy_document(example(name)))
    await client.promote(
        example("hotel_ops.yaml")["version"], env="prod", actor="test", reason="seed", force=True
    )
    yield client
    await client.close()


def settings_for(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=db_url, snapshot_cache_dir=tmp_path, heartbeat_interval_s=3600, **overrides
    )


async def test_example_1_basic_usage(client: PKGClient, db_url: str, tmp_path: Path) -> None:
    manager = await initialize_global_pkg_manager(
        pkg_client=client, settings=settings_for(db_url, tmp_path)
    )
    try:
        assert get_global_pkg_manager() is manager
        evaluator = get_global_pkg_manager().get_active_evaluator()
        assert evaluator is not None
        task_facts = example("hotel_ops.yaml")["fixtures"][0]["input"]
        result = evaluator.evaluate(task_facts)
        assert set(result) == {"subtasks", "dag", "rules", "snapshot"}
        assert result["snapshot"] == example("hotel_ops.yaml")["version"]
    finally:
        await reset_global_pkg_manager()


async def test_example_2_hot_swap_by_a_raw_redis_publish(
    client: PKGClient, redis_url: str, tmp_path: Path
) -> None:
    subscriber = aioredis.from_url(redis_url)
    publisher = aioredis.from_url(redis_url)
    version = example("hotel_ops_v2.yaml")["version"]
    try:
        async with PKGManager(client, subscriber) as manager:
            await eventually(lambda: manager.get_health_status()["redis_connected"])
            await publisher.publish("pkg_updates", f"activate:{version}")
            await eventually(lambda: manager.get_metadata()["version"] == version)
            assert manager.get_metadata()["version"] == version
    finally:
        await publisher.aclose()


async def test_example_3_ab_testing_two_versions(
    client: PKGClient, db_url: str, tmp_path: Path
) -> None:
    beta = example("hotel_ops_v2.yaml")["version"]
    async with PKGManager(client, None) as manager:
        assert manager.get_evaluator_by_version(beta) is None  # not loaded yet: the seed's None
        await manager.load_evaluator(beta)
        test_evaluator = manager.get_evaluator_by_version(beta)
        assert test_evaluator is not None
        facts = example("hotel_ops.yaml")["fixtures"][0]["input"]
        candidate = test_evaluator.evaluate(facts)
        active = manager.get_active_evaluator().evaluate(facts)
        assert (candidate["snapshot"], active["snapshot"]) == (
            beta,
            example("hotel_ops.yaml")["version"],
        )


async def test_example_4_validation_pipeline(client: PKGClient) -> None:
    version = example("hotel_ops.yaml")["version"]
    snapshot = await client.get_snapshot_by_version(version)
    assert snapshot is not None
    fixtures = await client.get_validation_fixtures(snapshot.id)
    run_id = await client.create_validation_run(snapshot.id)
    evaluator = PKGEvaluator(snapshot)
    passed = failed = 0
    from app.domain.fixtures import match_expectation

    for fixture in fixtures:
        result = evaluator.evaluate(fixture["input"])
        if match_expectation(fixture["expect"], result):
            failed += 1
        else:
            passed += 1
    await client.finish_validation_run(
        run_id=run_id, success=(failed == 0), report={"passed": passed, "failed": failed}
    )
    runs = await client.get_validation_runs(snapshot_id=snapshot.id)
    assert runs[0]["id"] == run_id and runs[0]["success"] is True
    assert runs[0]["report"] == {"passed": len(fixtures), "failed": 0}
