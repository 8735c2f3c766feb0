"""The manager's link to the database: every call bounded in time, reachability tracked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.domain.errors import StoreUnavailableError
from app.services.logs import get_logger

log = get_logger("pkg.manager")
T = TypeVar("T")


async def bounded(work: Awaitable[T], timeout_s: float) -> T:
    """`await work`, or StoreUnavailableError after `timeout_s` (every database call of a
    background task goes through this, so a hung database never hangs the task)."""
    # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
    # arrives as the call completes, and a listener that ignores stop() hangs shutdown
    try:
        async with asyncio.timeout(timeout_s):
            return await work
    except TimeoutError as exc:
        raise StoreUnavailableError(f"database did not answer in {timeout_s}s") from exc


class StoreLink:
    """`call(awaitable)` with a timeout; `connected`/`error` say how the last call went.

    `on_change()` runs after every change of reachability (the manager re-derives its
    degraded flag there)."""

    def __init__(self, *, timeout_s: float, on_change: Callable[[], None]) -> None:
        self.timeout_s = timeout_s
        self.connected = False
        self.error: str | None = None
        self._on_change = on_change

    async def call(self, work: Awaitable[T]) -> T:
        return await bounded(work, self.timeout_s)

    def unreachable(self, exc: Exception) -> None:
        if self.connected or self.error is None:
            log.warning("database_unreachable", error=str(exc), error_type=type(exc).__name__)
        self.connected = False
        self.error = f"database unreachable: {type(exc).__name__}: {exc}"
        self._on_change()

    def reachable(self) -> None:
        if not self.connected and self.error is not None:
            log.info("database_reachable")
        self.connected = True
        self.error = None
        self._on_change()
