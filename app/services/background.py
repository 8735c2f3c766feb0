"""Background tasks (the manager's, the rule tally's): started together, stopped together,
never silently lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from app.services.logs import get_logger

log = get_logger("pkg.manager")
STOP_GRACE_S = 1.0
STOP_TIMEOUT_S = 5.0


class BackgroundTasks:
    def __init__(self, logger: Any = log) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._log = logger  # where a failing round of `every` is reported

    def spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    def every(
        self,
        name: str,
        interval_s: float,
        tick: Callable[[], Awaitable[None]],
        *,
        failed: str = "manager_loop_error",
        level: str = "error",
    ) -> None:
        """`tick()` every `interval_s`; a round that raises is logged as `failed` at `level`,
        and the next one comes as if it had not."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_s)
                try:
                    await tick()
                except Exception as exc:
                    report = getattr(self._log, level)
                    report(failed, error=str(exc), error_type=type(exc).__name__)

        self.spawn(name, loop())

    async def stop(self, *, after_grace: Callable[[], Awaitable[None]] | None = None) -> None:
        """Cancel all; `after_grace` (closing the feed) also ends a task whose cancellation got
        lost; a task still running after that is logged, not awaited forever."""
        for task in self._tasks:
            task.cancel()
        pending: set[asyncio.Task[None]] = set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=STOP_GRACE_S)
        if after_grace is not None:
            await after_grace()
        if pending:
            _done, pending = await asyncio.wait(pending, timeout=STOP_TIMEOUT_S)
            for task in pending:
                log.error("manager_task_did_not_stop", task=task.get_name())
        self._tasks = []
