"""InProcessBus: the change feed of a single process (embedded mode, no Redis)."""

from __future__ import annotations

import asyncio
from collections import deque

from app.adapters.bus.delivery import call_subscribed, cancel_swallowed, deliver
from app.domain.change import ChangeMessage
from app.services.feed import MessageHandler, SubscribedHandler

BACKLOG_LIMIT = 1000


class InProcessBus:
    """Every `publish` reaches every listener of this object, in order, one message at a time.

    Unlike Redis pub/sub, nothing is lost in one process: messages published while nobody
    listens yet (a manager publishing before its listener task has run) wait, up to
    `BACKLOG_LIMIT`, for the next listener to subscribe.
    """

    def __init__(self) -> None:
        # None in a queue tells its listener to stop (close).
        self._queues: list[asyncio.Queue[ChangeMessage | None]] = []
        self._backlog: deque[ChangeMessage] = deque(maxlen=BACKLOG_LIMIT)
        self._closed = False

    transport = "in-process"

    @property
    def connected(self) -> bool:
        return bool(self._queues) and not self._closed

    async def listen(self, on_message: MessageHandler, on_subscribed: SubscribedHandler) -> None:
        """Subscribe, await `on_subscribed()` once, then deliver until `close()`."""
        if self._closed:
            return
        queue: asyncio.Queue[ChangeMessage | None] = asyncio.Queue()
        while self._backlog:
            queue.put_nowait(self._backlog.popleft())
        self._queues.append(queue)  # before on_subscribed: nothing published meanwhile is lost
        try:
            await call_subscribed(on_subscribed)
            while not cancel_swallowed() and (message := await queue.get()) is not None:
                await deliver(message, on_message)
            if cancel_swallowed():
                raise asyncio.CancelledError
        finally:
            self._queues.remove(queue)

    async def publish(self, message: ChangeMessage) -> None:
        if self._closed:
            raise RuntimeError("the in-process bus is closed")
        if not self._queues:
            self._backlog.append(message)
        for queue in self._queues:
            queue.put_nowait(message)

    async def close(self) -> None:
        self._closed = True
        for queue in self._queues:
            queue.put_nowait(None)
