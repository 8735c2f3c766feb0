"""What the manager needs from a propagation channel (Redis pub/sub, or the in-process bus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from app.domain.change import ChangeMessage
from app.services.logs import get_logger

log = get_logger("pkg.manager")

MessageHandler = Callable[[ChangeMessage], Awaitable[None]]
SubscribedHandler = Callable[[], Awaitable[None]]


class ChangeFeed(Protocol):
    """A channel of change messages.

    `listen` runs until cancelled: it (re)subscribes, awaits `on_subscribed()` after every
    successful (re)subscribe (the manager reconciles with the database there), then awaits
    `on_message(msg)` for each message, one at a time and in order. It never returns on a
    connection failure: it reconnects with backoff `min(60, b*2 + U(0,1))` from 1 s.
    `connected` is true only while subscribed. `publish` raises on failure; callers decide.
    """

    transport: str  # "redis", "in-process": what health reports as the propagation channel

    @property
    def connected(self) -> bool: ...

    async def listen(
        self, on_message: MessageHandler, on_subscribed: SubscribedHandler
    ) -> None: ...

    async def publish(self, message: ChangeMessage) -> None: ...

    async def close(self) -> None: ...


FeedAdapter = Callable[[object], "ChangeFeed | None"]
FEED_ADAPTERS: list[FeedAdapter] = []


def register_feed_adapter(adapter: FeedAdapter) -> None:
    """Adapters teach the manager to wrap a raw client (e.g. a redis.asyncio.Redis, as the seed
    passes it) into a ChangeFeed, without the services importing any adapter."""
    FEED_ADAPTERS.append(adapter)


def adapt_feed(client: object) -> ChangeFeed | None:
    if client is None:
        return None
    if all(hasattr(client, name) for name in ("listen", "publish", "close", "connected")):
        return cast(ChangeFeed, client)  # it has every member a ChangeFeed has
    for adapter in FEED_ADAPTERS:
        feed = adapter(client)
        if feed is not None:
            return feed
    raise TypeError(
        f"cannot use {type(client).__name__} as a change feed (a redis.asyncio.Redis needs "
        "the adapter app.entrypoints.composition.install_defaults() registers)"
    )


class FeedLink:
    """The manager's side of a change feed, or of none (library use without one)."""

    def __init__(self, feed: ChangeFeed | None, *, on_publish_failed: Callable[[], None]) -> None:
        self.feed = feed
        self._on_publish_failed = on_publish_failed

    @property
    def transport(self) -> str | None:
        return getattr(self.feed, "transport", None) if self.feed is not None else None

    @property
    def redis_connected(self) -> bool:
        """True only while subscribed to Redis (the in-process bus is not Redis)."""
        return self.transport == "redis" and self.feed is not None and self.feed.connected

    async def publish(self, message: ChangeMessage) -> bool:
        """Publish; a failure is logged and reported to `on_publish_failed`, never raised."""
        if self.feed is None:
            return False
        try:
            await self.feed.publish(message)
        except Exception as exc:
            self._on_publish_failed()
            log.warning("pkg_publish_failed", message=message.encode(), error=str(exc))
            return False
        return True

    async def close(self) -> None:
        if self.feed is not None:
            await self.feed.close()
