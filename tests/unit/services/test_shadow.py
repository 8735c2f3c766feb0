"""ShadowRunner and GuardWatch on an in-memory store: the request path never waits, counts
survive a failed flush, and of two replicas exactly one rolls a guarded promotion back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.services.evaluator import PKGEvaluator
from app.services.guard import GUARD_ACTOR, GuardWatch
from app.services.rollout import Route
from app.services.shadow import ShadowConfig, ShadowRunner
from tests.polling import eventually

SERVED = {"subtasks": [], "dag": [], "rules": [], "snapshot": "v1"}
ERROR = {"subtasks": [], "dag": [], "rules": [{"rule_id": "error", "error": "x"}], "snapshot": "v2"}
SHADOWED = Route("active", shadow_version="v2", shadow_deployment_id=5)


class FakeStore:
    """The `ShadowStore` port in memory (what PostgreSQL does in the integration tests)."""

    def __init__(self) -> None:
        self.shadow_rows: dict[tuple[int, str, str], dict[str, Any]] = {}
        self.guards: dict[int, dict[str, Any]] = {}
        self.guard_rows: dict[tuple[int, str], dict[str, Any]] = {}
        self.fail_next_flush = False

    async def flush_shadow_stats(self, rows: list[dict[str, Any]]) -> None:
        if self.fail_next_flush:
            self.fail_next_flush = False
            raise ConnectionError("database away")
        for row in rows:
            self.shadow_rows[(row["deployment_id"], row["version"], row["replica"])] = dict(row)

    async def shadow_stats(
        self, *, deployment_id: int | None = None, version: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            row
            for (lane, v, _r), row in self.shadow_rows.items()
            if deployment_id in (None, lane) and version in (None, v)
        ]

    async def create_guard(self, **values: Any) -> dict[str, Any]:
        self.guards[values["promotion_id"]] = {**values, "status": "watching"}
        return self.guards[values["promotion_id"]]

    async def watching_guards(self, env: str) -> list[dict[str, Any]]:
        return [g for g in self.guards.values() if g["env"] == env and g["status"] == "watching"]

    async def get_guard(self, promotion_id: int) -> dict[str, Any] | None:
        return self.guards.get(promotion_id)

    async def flush_guard_stats(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.guard_rows[(row["promotion_id"], row["replica"])] = dict(row)

    async def guard_totals(self, promotion_id: int) -> dict[str, int]:
        rows = [r for (pid, _), r in self.guard_rows.items() if pid == promotion_id]
        return {
            "decisions": sum(r["decisions"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
            "replicas": len(rows),
        }

    async def decide_guard(
        self,
        promotion_id: int,
        *,
        status: str,
        outcome: dict[str, Any] | None = None,
        decided_by: str | None = None,
        from_status: str = "watching",
    ) -> bool:
        guard = self.guards[promotion_id]
        if guard["status"] != from_status:
            return False
        guard.update(status=status, outcome=outcome, decided_by=decided_by)
        return True


class NoMetrics:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def shadow_decision(self, lane: str, result: str) -> None:
        self.seen.append((lane, result))


def runner(store: FakeStore | None, resolve: Any, *, queue_size: int = 10) -> ShadowRunner:
    config = ShadowConfig(replica="r1", queue_size=queue_size, examples=2, flush_interval_s=3600)
    return ShadowRunner(resolve=resolve, store=store, metrics=NoMetrics(), config=config)


async def never(_version: str) -> PKGEvaluator:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def test_a_full_queue_drops_and_counts_and_offer_never_waits() -> None:
    shadow = runner(None, never, queue_size=2)
    for _ in range(5):
        shadow.offer(SHADOWED, {"tags": []}, SERVED)
    shadow.offer(Route.stable(), {"tags": []}, SERVED)  # not sampled: nothing queued

    assert shadow.backlog == 2
    (lane,) = shadow.local()
    assert (lane["deployment_id"], lane["version"], lane["dropped"]) == (5, "v2", 3)


async def test_a_shadow_that_never_answers_holds_up_nobody() -> None:
    shadow = runner(None, never)
    await shadow.start()
    try:
        shadow.offer(SHADOWED, {"tags": []}, SERVED)
        await eventually(lambda: shadow.backlog == 0)  # taken, and stuck in the shadow
        for _ in range(3):
            shadow.offer(SHADOWED, {"tags": []}, SERVED)
        assert shadow.backlog == 3 and shadow.local()[0]["evaluated"] == 1
    finally:
        await asyncio.wait_for(shadow.stop(), 5)


async def test_a_failed_flush_keeps_the_counts_for_the_next_one() -> None:
    store = FakeStore()

    async def broken(_version: str) -> PKGEvaluator:
        raise RuntimeError("cannot load")

    shadow = runner(store, broken)
    await shadow.start()
    try:
        shadow.offer(SHADOWED, {"tags": []}, SERVED)
        await eventually(lambda: shadow.local() and shadow.local()[0]["errors"] == 1)
        store.fail_next_flush = True
        with pytest.raises(ConnectionError):
            await shadow.flush()
        shadow.offer(SHADOWED, {"tags": []}, SERVED)
        await eventually(lambda: shadow.local()[0]["errors"] == 2)
        await shadow.flush()
    finally:
        await shadow.stop()
    (row,) = store.shadow_rows.values()
    assert (row["evaluated"], row["errors"], row["replica"]) == (2, 2, "r1")
    assert row["examples"][0]["shadow"]["rules"][0]["error_type"] == "RuntimeError"


class FakePromoter:
    env = "prod"

    def __init__(self) -> None:
        self.rollbacks: list[dict[str, Any]] = []

    async def promote(self, version: str, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("guards never promote")

    async def rollback(self, **kwargs: Any) -> dict[str, Any]:
        self.rollbacks.append(kwargs)
        return {"id": 99, "action": "rollback", "to_version": "v1"}


def watch(store: FakeStore, promoter: FakePromoter, replica: str, active: str) -> GuardWatch:
    async def active_version(_env: str) -> str | None:
        return active

    return GuardWatch(
        store=store, promoter=promoter, active_version=active_version, env="prod", replica=replica
    )


async def arm(store: FakeStore, *, watch_s: float = 300) -> None:
    await store.create_guard(
        promotion_id=7,
        env="prod",
        version="v2",
        from_version="v1",
        config={"watch_s": watch_s, "max_error_rate": 0.1, "min_decisions": 4},
        watch_until=datetime.now(UTC) + timedelta(seconds=watch_s),
    )


async def test_of_two_replicas_over_the_error_rate_exactly_one_rolls_back_once() -> None:
    store, promoter = FakeStore(), FakePromoter()
    await arm(store)
    a, b = watch(store, promoter, "a", "v2"), watch(store, promoter, "b", "v2")
    await a.tick()
    await b.tick()  # both now watch v2
    for replica in (a, b):
        for result in (ERROR, ERROR, {**ERROR, "rules": []}):
            replica.count(result)
        replica.count(SERVED)  # another version: not counted

    await asyncio.gather(a.tick(), b.tick())
    await asyncio.gather(a.tick(), b.tick())

    assert len(promoter.rollbacks) == 1
    (call,) = promoter.rollbacks
    assert call["actor"] == GUARD_ACTOR and call["to_version"] is None
    assert (call["metrics"]["decisions"], call["metrics"]["errors"]) == (6, 4)
    assert store.guards[7]["status"] == "rolled_back"


async def test_a_guard_under_its_minimum_waits_and_one_that_expires_passes() -> None:
    store, promoter = FakeStore(), FakePromoter()
    await arm(store, watch_s=0.01)
    a = watch(store, promoter, "a", "v2")
    await a.tick()
    a.count(ERROR)  # 1 decision, 100 % errors, but fewer than min_decisions
    await asyncio.sleep(0.02)
    await a.tick()
    assert promoter.rollbacks == [] and store.guards[7]["status"] == "passed"


async def test_a_guard_whose_version_was_replaced_is_superseded() -> None:
    store, promoter = FakeStore(), FakePromoter()
    await arm(store)
    a = watch(store, promoter, "a", "v3")
    await a.tick()
    assert store.guards[7]["status"] == "superseded" and promoter.rollbacks == []


class SlowFirstFlush(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def flush_shadow_stats(self, rows: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(0.05)  # the older snapshot of the counts arrives last
        await super().flush_shadow_stats(rows)


async def test_concurrent_flushes_never_take_the_counts_backwards() -> None:
    store = SlowFirstFlush()
    shadow = runner(store, never, queue_size=1)
    shadow.offer(SHADOWED, {"tags": []}, SERVED)
    shadow.offer(SHADOWED, {"tags": []}, SERVED)  # dropped: 1
    first = asyncio.create_task(shadow.flush())
    await asyncio.sleep(0)
    shadow.offer(SHADOWED, {"tags": []}, SERVED)  # dropped: 2
    await asyncio.gather(first, shadow.flush())
    (row,) = store.shadow_rows.values()
    assert row["dropped"] == 2
