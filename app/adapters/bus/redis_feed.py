"""RedisChangeFeed: change messages over Redis pub/sub, with a listener that never gives up.

The listener reads one message at a time from its pub/sub connection and awaits the handler
inline, so messages queue in the socket buffer while one is processed: none is dropped, none
overtakes another. A lost connection is never papered over: redis-py would silently reconnect
and resubscribe a pub/sub connection, losing whatever was published in between without telling
anyone, so the feed refuses that reconnect, drops the session and subscribes afresh, which runs
`on_subscribed` (where the manager reconciles with the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any, Final

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.adapters.bus.delivery import call_subscribed, cancel_swallowed, deliver
from app.domain.change import ChangeMessage, parse_change_message
from app.services.feed import MessageHandler, SubscribedHandler
from app.services.logs import get_logger

log = get_logger("pkg.bus")

DEFAULT_CHANNEL: Final = "pkg_updates"
# What an unreachable, dead or misbehaving server looks like from here: reconnect with backoff.
_LOST: Final = (RedisError, OSError, TimeoutError)


class _SessionLost(RedisError):
    """Raised from a connect callback to end a pub/sub session. Deliberately not a
    ConnectionError: redis-py retries those around `connect()`, with its own backoff."""


def next_backoff(current: float, *, cap: float, jitter: float) -> float:
    """The wait after `current`: `min(cap, current*2 + jitter)`, jitter drawn from U(0, 1)."""
    return min(cap, current * 2 + jitter)


class RedisChangeFeed:
    """A ChangeFeed on one Redis channel (`pkg_updates` unless told otherwise).

    Give it a URL (it then owns and closes its client) or a `redis.asyncio.Redis` the caller
    owns (as the seed passes one; `close()` leaves it open). `reconnects` counts the sessions
    lost or refused, each followed by a backoff wait and a fresh subscribe.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        channel: str = DEFAULT_CHANNEL,
        on_reconnect: Callable[[], None] | None = None,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        health_check_interval_s: float = 1.0,
        timeout_s: float = 2.0,
    ) -> None:
        if isinstance(url_or_client, str):
            # One retry: a pooled connection gone stale across a server restart is replaced.
            self._client = Redis.from_url(
                url_or_client,
                socket_connect_timeout=timeout_s,
                socket_timeout=timeout_s,
                retry=Retry(NoBackoff(), 1),
            )
            self._owns_client = True
        else:
            self._client = url_or_client
            self._owns_client = False
        self.channel = channel
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.health_check_interval_s = health_check_interval_s
        self.timeout_s = timeout_s
        self.reconnects = 0
        self._on_reconnect = on_reconnect
        self._lent_retry: Retry | None = None  # the pub/sub connection's own, while we hold it
        self._delay = backoff_initial_s
        self._connected = False
        self._closed = False
        self._wake = asyncio.Event()  # cuts a backoff wait short on close()
        self._idle = asyncio.Event()  # set while no pub/sub session is open
        self._idle.set()

    transport = "redis"

    @property
    def connected(self) -> bool:
        return self._connected

    # ------------------------------------------------------------------ ChangeFeed
    async def listen(self, on_message: MessageHandler, on_subscribed: SubscribedHandler) -> None:
        """Subscribe and deliver until cancelled or closed; reconnect with backoff on failure."""
        while not self._closed:
            try:
                await self._session(on_message, on_subscribed)
            except _LOST as exc:
                if self._closed:
                    break
                self._lost(exc)
                await self._pause(self._delay)
                jitter = random.uniform(0.0, 1.0)
                self._delay = next_backoff(self._delay, cap=self.backoff_max_s, jitter=jitter)

    async def publish(self, message: ChangeMessage) -> None:
        """PUBLISH, within `timeout_s`; raises a RedisError when Redis is down or slow."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._client.publish(self.channel, message.encode())
        except TimeoutError as exc:
            raise RedisTimeoutError(f"PUBLISH took longer than {self.timeout_s}s") from exc

    async def close(self) -> None:
        """Stop listening (within about one health-check interval) and close what we opened."""
        self._closed = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self.health_check_interval_s + self.timeout_s)
        if self._owns_client:
            self._owns_client = False  # close once
            await self._client.aclose()

    # ------------------------------------------------------------------ one subscription
    async def _session(self, on_message: MessageHandler, on_subscribed: SubscribedHandler) -> None:
        pubsub = self._client.pubsub()
        self._idle.clear()
        try:
            await self._subscribe(pubsub)
            self._hold(pubsub.connection)
            self._connected = True
            self._delay = self.backoff_initial_s
            log.info("redis_subscribed", channel=self.channel, reconnects=self.reconnects)
            await call_subscribed(on_subscribed)
            await self._pump(pubsub, on_message)
            if cancel_swallowed():
                raise asyncio.CancelledError
        finally:
            self._connected = False
            await self._end(pubsub)

    async def _subscribe(self, pubsub: PubSub) -> None:
        """SUBSCRIBE and wait for the server's confirmation: from then on nothing is missed."""
        await pubsub.subscribe(self.channel)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        while (remaining := deadline - loop.time()) > 0:
            reply = await pubsub.get_message(timeout=remaining)
            if reply is not None and reply["type"] == "subscribe":
                return
        raise RedisTimeoutError(f"no SUBSCRIBE confirmation within {self.timeout_s}s")

    async def _pump(self, pubsub: PubSub, on_message: MessageHandler) -> None:
        """Deliver until closed. A dead server shows as EOF at once; a hung one as no PONG."""
        loop = asyncio.get_running_loop()
        heard, pinged = loop.time(), None
        while not self._closed and not cancel_swallowed():
            reply = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=self.health_check_interval_s
            )
            now = loop.time()
            if reply is not None:
                heard, pinged = now, None
                if reply["type"] == "message":
                    await _deliver(reply["data"], on_message, channel=self.channel)
            elif pinged is not None and now - pinged > self.timeout_s:
                raise RedisTimeoutError(f"no reply to PING within {self.timeout_s}s")
            elif pinged is None and now - heard >= self.health_check_interval_s:
                await pubsub.ping()
                pinged = now

    def _hold(self, connection: Any) -> None:
        """While subscribed, a lost connection fails at once: no retries (a caller's client may
        retry for seconds) and no silent reconnect. Undone by `_end`: it may be a caller's pool."""
        self._lent_retry = connection.retry
        connection.retry = Retry(NoBackoff(), 0)
        connection.register_connect_callback(self._refuse_reconnect)

    async def _end(self, pubsub: PubSub) -> None:
        connection: Any = pubsub.connection
        if connection is not None:
            connection.deregister_connect_callback(self._refuse_reconnect)
            if self._lent_retry is not None:
                connection.retry, self._lent_retry = self._lent_retry, None
        with contextlib.suppress(*_LOST):
            await pubsub.aclose()
        self._idle.set()

    def _refuse_reconnect(self, connection: object) -> None:
        """A connect callback: the session must end rather than resubscribe behind our back."""
        raise _SessionLost("pub/sub connection lost; subscribing afresh")

    # ------------------------------------------------------------------ between sessions
    def _lost(self, exc: BaseException) -> None:
        self._connected = False
        self.reconnects += 1
        log.warning(
            "redis_disconnected",
            channel=self.channel,
            error=str(exc),
            error_type=type(exc).__name__,
            retry_in_s=round(self._delay, 3),
            reconnects=self.reconnects,
        )
        if self._on_reconnect is not None:
            try:
                self._on_reconnect()
            except Exception as hook_error:  # a metrics hook must not stop the listener
                log.error("redis_reconnect_hook_failed", error=str(hook_error))

    async def _pause(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()


async def _deliver(data: str | bytes, on_message: MessageHandler, *, channel: str) -> None:
    try:
        message = parse_change_message(data)
    except ValueError as exc:
        log.warning("change_message_invalid", channel=channel, error=str(exc))
        return
    await deliver(message, on_message, channel=channel)
