"""Waiting for something another task or process does, with a bound instead of a sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(predicate: Callable[[], object], *, within: float = 5.0) -> None:
    """Return once `predicate()` is truthy; fail with TimeoutError after `within` seconds."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110  # the state lives elsewhere: nothing to await
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), within)
