"""The last-known-good snapshot on local disk: served when the database is down at start."""

from __future__ import annotations

import asyncio

from app.domain.snapshot import PKGSnapshotData
from app.services.logs import get_logger
from app.services.ports import SnapshotCache

log = get_logger("pkg.manager")


class LastKnownGood:
    """Off the event loop; no cache configured (library use) means nothing is kept."""

    def __init__(self, cache: SnapshotCache | None) -> None:
        self._cache = cache

    async def save(self, snapshot: PKGSnapshotData) -> None:
        if self._cache is None:
            return
        try:
            await asyncio.to_thread(self._cache.save, snapshot)
        except OSError as exc:  # a full disk must not fail an activation
            log.warning("snapshot_cache_write_failed", error=str(exc))

    async def load(self, env: str) -> PKGSnapshotData | None:
        if self._cache is None:
            return None
        return await asyncio.to_thread(self._cache.load, env)
