"""A fleet behaves as one: two uvicorn processes, real PostgreSQL and Redis, real outages.

The bounds below are correctness bounds (the replica must converge by then), not speed targets;
propagation latency is measured in bench/propagation.py.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from functools import partial

import pytest

from tests.integration.fleet.conftest import (
    RECONCILE_S,
    SETTLE_S,
    Fleet,
    Replica,
    _replica,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BACKOFF_BOUND_S = 1 + 3 + 7  # the first three reconnect waits: 1, then ≤ b*2+1 each


@pytest.fixture(scope="module")
def listener(fleet: Fleet) -> Iterator[Replica]:
    """A third replica that never polls (one reconcile an hour): after its start-up, a version
    reaches it through Redis, or through the reconcile of a resubscription, and no reconcile
    tick can beat a message to it (on a and b one can, the more often the slower the machine).

    Its first subscription also reconciles, at a moment nobody sees: a promotion it serves
    marks that reconcile as done (a message is delivered only after it)."""
    replica = _replica("c", {**fleet.env, "PKG_RECONCILE_INTERVAL_S": "3600"}, fleet.tmp)
    try:
        replica.server.wait(path="/health")
        wait_until(partial(redis_connected, replica), within=SETTLE_S)
        fleet.push("fleet-listener@1")
        fleet.promote("fleet-listener@1")
        for each in (fleet.a, fleet.b, replica):
            wait_until(partial(serves, each, "fleet-listener@1"), within=RECONCILE_S + SETTLE_S)
        yield replica
    finally:
        replica.server.stop()


def test_a_promotion_through_a_is_served_by_the_others_through_redis(
    fleet: Fleet, listener: Replica
) -> None:
    fleet.push("fleet@2")
    fleet.promote("fleet@2")
    assert fleet.a.serves() == "fleet@2"  # the replica that took the write serves it at once
    for replica in (fleet.b, listener):
        wait_until(partial(serves, replica, "fleet@2"), within=SETTLE_S)
    assert listener.metadata()["last_activation_source"] == "redis"
    assert fleet.b.health()["redis_connected"] is True


def test_with_redis_stopped_during_a_promotion_b_converges_and_reconnects(
    fleet: Fleet, listener: Replica
) -> None:
    fleet.push("fleet@3")
    fleet.redis.stop()
    try:
        for replica in (fleet.b, listener):
            wait_until(partial(redis_lost, replica), within=10)
        fleet.promote("fleet@3")  # the publish fails; the promotion stands
        assert fleet.a.serves() == "fleet@3"
    finally:
        fleet.redis.start()
    wait_until(lambda: fleet.b.serves() == "fleet@3", within=RECONCILE_S + BACKOFF_BOUND_S)
    wait_until(partial(redis_connected, fleet.b), within=BACKOFF_BOUND_S + SETTLE_S)
    # the listener hears of fleet@3 only by resubscribing, once that reconcile is done
    wait_until(partial(serves, listener, "fleet@3"), within=BACKOFF_BOUND_S + SETTLE_S)
    assert listener.metadata()["last_activation_source"] == "resubscribe"
    assert listener.health()["redis_connected"] is True
    fleet.push("fleet@4")
    fleet.promote("fleet@4")
    for replica in (fleet.b, listener):
        wait_until(partial(serves, replica, "fleet@4"), within=SETTLE_S)
    assert listener.metadata()["last_activation_source"] == "redis"


def test_with_redis_gone_for_good_b_still_converges_by_polling(fleet: Fleet) -> None:
    fleet.redis.stop()
    try:
        wait_until(lambda: not fleet.b.health()["redis_connected"], within=10)
        fleet.promote("fleet@2")
        wait_until(lambda: fleet.b.serves() == "fleet@2", within=RECONCILE_S + SETTLE_S)
        assert fleet.b.metadata()["last_activation_source"] == "reconcile"
        assert fleet.b.health()["status"] == "ok"  # polling keeps it correct, not degraded
    finally:
        fleet.redis.start()
    wait_until(partial(redis_connected, fleet.b), within=BACKOFF_BOUND_S + SETTLE_S)


def redis_connected(replica: Replica) -> bool:
    return bool(replica.health()["redis_connected"])


def redis_lost(replica: Replica) -> bool:
    return not redis_connected(replica)


def db_lost(replica: Replica) -> bool:
    return not replica.health()["db_connected"]


def test_with_postgres_down_replicas_serve_report_degraded_and_refuse_writes(
    fleet: Fleet,
) -> None:
    serving = fleet.b.serves()
    fleet.postgres.stop()
    try:
        for replica in (fleet.a, fleet.b):
            wait_until(partial(db_lost, replica), within=RECONCILE_S + SETTLE_S)
            health = replica.health()
            assert health["status"] == "degraded" and "database" in health["last_error"]
            assert replica.serves() == serving
        refused = fleet.a.post("/promotions", json={"version": "fleet@1", "force": True})
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
    finally:
        fleet.postgres.start()
    for replica in (fleet.a, fleet.b):
        wait_until(partial(is_ok, replica), within=RECONCILE_S + SETTLE_S)
    fleet.promote("fleet@1")
    wait_until(lambda: fleet.b.serves() == "fleet@1", within=RECONCILE_S + SETTLE_S)


def is_ok(replica: Replica) -> bool:
    return bool(replica.health()["status"] == "ok")


def test_a_replica_restarted_while_postgres_is_down_serves_the_last_known_good(
    fleet: Fleet,
) -> None:
    serving = fleet.b.serves()
    assert serving is not None
    fleet.postgres.stop()
    try:
        fleet.b.server.stop()
        fleet.b.server.start(wait_ready=True, timeout=60)
        assert fleet.b.serves() == serving
        health = fleet.b.health()
        assert health["degraded_mode"] and not health["db_connected"]
        assert fleet.b.metadata()["served_from_cache"] is True
    finally:
        fleet.postgres.start()
    wait_until(lambda: fleet.b.health()["status"] == "ok", within=RECONCILE_S + SETTLE_S)


def test_fifty_promotions_under_load_fail_no_request(fleet: Fleet) -> None:
    versions = ["fleet@1", "fleet@2"]
    for version in versions:
        if fleet.a.get(f"/snapshots/{version}").status_code == 404:
            fleet.push(version)
    if fleet.a.serves() == versions[0]:
        versions.reverse()  # promoting the active version again is refused (409)
    seen: Counter[str | None] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def load(replica_name: str) -> None:
        replica = fleet.a if replica_name == "a" else fleet.b
        while not stop.is_set():
            response = replica.post("/evaluate", json={"tags": ["vip"]})
            if response.status_code != 200:
                failures.append(f"{replica_name}: {response.status_code} {response.text[:200]}")
            else:
                seen[response.json()["snapshot"]] += 1

    workers = [threading.Thread(target=load, args=(name,)) for name in ("a", "b", "b")]
    for worker in workers:
        worker.start()
    try:
        for index in range(50):
            fleet.promote(versions[index % 2])
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert failures == []
    assert sum(seen.values()) > 50
    active_at_some_point = {"fleet@1", "fleet@2", "fleet@3", "fleet@4"}
    assert set(seen) <= active_at_some_point


def test_every_replica_reports_itself_as_a_converged_device(
    fleet: Fleet, listener: Replica
) -> None:
    fleet.promote("fleet@2")
    wait_until(lambda: fleet.b.serves() == "fleet@2", within=RECONCILE_S + SETTLE_S)

    def converged() -> bool:
        devices = fleet.a.get("/devices", params={"device_type": "pkg-service"}).json()
        versions = {d["device_id"]: d["version"] for d in devices}
        return versions == {f"pkg-service:{name}": "fleet@2" for name in ("a", "b", "c")}

    wait_until(converged, within=SETTLE_S)


def test_an_operator_override_after_a_promotion_lasts_until_the_db_changes(fleet: Fleet) -> None:
    # issue 16 item 4: `redis-cli PUBLISH pkg_updates activate:<stored version>` right after a
    # promotion swaps both replicas, and reconciles must not swap them back
    import redis

    for version in ("fleet@5", "fleet@6"):
        if fleet.a.get(f"/snapshots/{version}").status_code == 404:
            fleet.push(version)
    fleet.promote("fleet@5")
    for replica in (fleet.a, fleet.b):
        wait_until(partial(serves, replica, "fleet@5"), within=RECONCILE_S + SETTLE_S)
    with redis.Redis.from_url(fleet.redis.url) as client:
        client.publish("pkg_updates", "activate:fleet@1")
    for replica in (fleet.a, fleet.b):
        wait_until(partial(serves, replica, "fleet@1"), within=SETTLE_S)  # only Redis says so
    reconciled = [r.metadata()["last_activation"] for r in (fleet.a, fleet.b)]
    threading.Event().wait(RECONCILE_S * 2 + 0.5)  # two reconcile ticks pass on each replica
    for replica, activated in zip((fleet.a, fleet.b), reconciled, strict=True):
        assert replica.serves() == "fleet@1"
        assert replica.metadata()["last_activation"] == activated  # no swap back and forth
        assert replica.health()["db_active_version"] == "fleet@5"
    fleet.promote("fleet@6")  # the DB's active version changes: the override ends
    for replica in (fleet.a, fleet.b):
        wait_until(partial(serves, replica, "fleet@6"), within=RECONCILE_S + SETTLE_S)


def serves(replica: Replica, version: str) -> bool:
    return replica.serves() == version
