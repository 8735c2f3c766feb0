"""What the manager needs from a propagation channel (Redis pub/sub, or the in-process bus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from app.domain.change import ChangeMessage

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

    @property
    def connected(self) -> bool: ...

    async def listen(
        self, on_message: MessageHandler, on_subscribed: SubscribedHandler
    ) -> None: ...

    async def publish(self, message: ChangeMessage) -> None: ...

    async def close(self) -> None: ...
