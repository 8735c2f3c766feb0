"""RedisChangeFeed against a real redis-server: order, parsing, outages, reconnects.

Each test listens on its own channel. Outages are played with the harness's server (stop/start
on the same port, or SIGSTOP for a hung one); the waits are correctness bounds, not timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.adapters.bus.redis_feed import RedisChangeFeed
from app.domain.change import ChangeMessage
from tests.polling import eventually
from tests.unit.test_inprocess_bus import Recorder, activate

pytestmark = pytest.mark.integration

FAST = {"backoff_initial_s": 0.1, "backoff_max_s": 0.5, "health_check_interval_s": 0.2}
FeedFactory = Callable[..., RedisChangeFeed]


@pytest.fixture
def channel() -> str:
    return f"pkg_updates_test_{uuid.uuid4().hex}"


@pytest.fixture
async def make_feed(redis_url: str, channel: str) -> AsyncIterator[FeedFactory]:
    """Feeds on this test's channel (from the URL unless given a client), closed at teardown."""
    feeds: list[RedisChangeFeed] = []

    def make(client: Redis | None = None, **options: Any) -> RedisChangeFeed:
        feed = RedisChangeFeed(client or redis_url, channel=channel, **options)
        feeds.append(feed)
        return feed

    yield make
    for feed in feeds:
        await feed.close()


@contextlib.asynccontextmanager
async def listening(feed: RedisChangeFeed, recorder: Recorder) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(feed.listen(recorder.on_message, recorder.on_subscribed))
    try:
        await eventually(lambda: feed.connected and recorder.subscribed > 0)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await feed.close()


@contextlib.asynccontextmanager
async def plain_client(url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_fifty_messages_arrive_in_order_one_at_a_time_despite_a_slow_handler(
    make_feed: FeedFactory,
) -> None:
    publisher, listener, recorder = make_feed(), make_feed(), Recorder(delay_s=0.01)
    async with listening(listener, recorder):
        for i in range(50):
            await publisher.publish(activate(f"v{i}"))
        await eventually(lambda: len(recorder.messages) == 50, within=20)
    assert recorder.versions == [f"v{i}" for i in range(50)]
    assert recorder.max_active == 1


async def test_a_raw_activate_with_whitespace_from_a_plain_client_is_parsed(
    make_feed: FeedFactory, redis_url: str, channel: str
) -> None:
    recorder = Recorder()
    async with listening(make_feed(), recorder), plain_client(redis_url) as client:
        await client.publish(channel, "  activate:v7 \n")
        await eventually(lambda: len(recorder.messages) == 1)
    assert recorder.messages == [ChangeMessage("activate", version="v7")]


async def test_invalid_messages_are_skipped_and_later_ones_still_arrive(
    make_feed: FeedFactory, redis_url: str, channel: str
) -> None:
    recorder = Recorder()
    later = '{"action": "deployments_changed", "env": "prod"}'
    async with listening(make_feed(), recorder), plain_client(redis_url) as client:
        for raw in ("garbage", "activate:", "{not json", '{"action": "drop"}', later):
            await client.publish(channel, raw)
        await client.publish(channel, "activate:v2")
        await eventually(lambda: len(recorder.messages) == 2)
    assert recorder.messages == [
        ChangeMessage("deployments_changed", env="prod"),
        ChangeMessage("activate", version="v2"),
    ]


async def test_a_failing_handler_does_not_stop_the_messages_behind_it(
    make_feed: FeedFactory,
) -> None:
    publisher, recorder = make_feed(), Recorder(fail_on="v1")
    async with listening(make_feed(), recorder):
        for version in ("v1", "v2"):
            await publisher.publish(activate(version))
        await eventually(lambda: recorder.versions == ["v2"])


async def test_connected_follows_the_subscription_across_an_outage_and_resubscribing_reconciles(
    make_feed: FeedFactory, redis_server: Any
) -> None:
    hook_calls: list[int] = []
    listener = make_feed(on_reconnect=lambda: hook_calls.append(1), **FAST)
    recorder = Recorder()
    async with listening(listener, recorder):
        assert (listener.connected, recorder.subscribed, listener.reconnects) == (True, 1, 0)
        await asyncio.to_thread(redis_server.stop)
        await eventually(lambda: not listener.connected, within=5)
        await eventually(lambda: listener.reconnects >= 2, within=5)  # still trying, not gone
        assert not listener.connected and recorder.subscribed == 1
        await asyncio.to_thread(redis_server.start)
        await eventually(lambda: listener.connected and recorder.subscribed == 2, within=10)
        assert len(hook_calls) == listener.reconnects
        await make_feed().publish(activate("after-outage"))
        await eventually(lambda: recorder.versions == ["after-outage"])


async def test_a_restart_while_busy_is_not_papered_over_the_feed_subscribes_afresh(
    make_feed: FeedFactory, redis_server: Any
) -> None:
    """redis-py would reconnect and resubscribe silently; messages published meanwhile would be
    lost unnoticed. The feed refuses that, so `on_subscribed` (the reconcile) runs again."""
    recorder = Recorder(delay_s=1.0)
    seed_client = Redis(host="127.0.0.1", port=redis_server.port)  # redis-py's default retries
    try:
        listener = make_feed(seed_client, **FAST)
        async with listening(listener, recorder):
            await make_feed().publish(activate("slow"))
            await eventually(lambda: recorder.active == 1)
            await asyncio.to_thread(redis_server.stop)
            await asyncio.to_thread(redis_server.start)
            await eventually(lambda: recorder.subscribed == 2, within=10)
            assert recorder.versions == ["slow"] and listener.reconnects == 1
    finally:
        await seed_client.aclose()


async def test_a_hung_server_is_noticed_by_its_missing_pong_and_the_feed_comes_back(
    make_feed: FeedFactory, redis_server: Any
) -> None:
    listener, recorder = make_feed(timeout_s=0.5, **FAST), Recorder()
    async with listening(listener, recorder):
        redis_server.pause()
        try:
            await eventually(lambda: not listener.connected, within=5)
        finally:
            redis_server.resume()
        await eventually(lambda: listener.connected and recorder.subscribed == 2, within=10)
        await make_feed().publish(activate("after-hang"))
        await eventually(lambda: recorder.versions == ["after-hang"])


async def test_publish_while_redis_is_down_raises_quickly_and_recovers_after_a_restart(
    make_feed: FeedFactory, redis_server: Any, redis_url: str
) -> None:
    from_url = make_feed()
    await from_url.publish(activate("v1"))  # a pooled connection, about to go stale
    async with plain_client(redis_url) as seed_client:
        from_client = make_feed(seed_client)
        await asyncio.to_thread(redis_server.stop)
        try:
            for feed in (from_url, from_client):
                with pytest.raises(RedisError):
                    await asyncio.wait_for(feed.publish(activate("v2")), 10)
        finally:
            await asyncio.to_thread(redis_server.start)
    await from_url.publish(activate("v3"))


async def test_a_feed_on_a_callers_client_works_and_leaves_that_client_open(
    make_feed: FeedFactory, redis_url: str
) -> None:
    recorder = Recorder()
    async with plain_client(redis_url) as seed_client:
        feed = make_feed(seed_client)
        async with listening(feed, recorder):
            await feed.publish(activate("v5"))
            await eventually(lambda: recorder.versions == ["v5"])
        assert not feed.connected
        assert await seed_client.ping()


async def test_close_stops_a_listener_that_was_not_cancelled(make_feed: FeedFactory) -> None:
    feed, recorder = make_feed(**FAST), Recorder()
    task = asyncio.create_task(feed.listen(recorder.on_message, recorder.on_subscribed))
    await eventually(lambda: feed.connected)
    await feed.close()
    await asyncio.wait_for(task, 5)
    assert not feed.connected
