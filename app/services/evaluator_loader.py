"""Stored version → verified, compiled evaluator, off the event loop."""

from __future__ import annotations

import asyncio

from app.domain.errors import NotFoundError
from app.domain.snapshot import PKGSnapshotData
from app.services.evaluator import PKGEvaluator
from app.services.evaluator_cache import EvaluatorCache
from app.services.logs import get_logger
from app.services.metrics import ManagerMetrics
from app.services.ports import SnapshotSource, SnapshotVerifier
from app.services.signing import NO_VERIFICATION
from app.services.store_link import StoreLink

log = get_logger("pkg.manager")


def build_evaluator(
    snapshot: PKGSnapshotData, verifier: SnapshotVerifier = NO_VERIFICATION
) -> PKGEvaluator:
    """Verify, then compile (sync: run it in a thread; a 1000-rule snapshot takes ms).

    The one place every activation passes through (promotion, Redis message, reconcile, the
    last-known-good cache, pinned and canary versions): its signature here, its checksum in
    `PKGEvaluator` (once, for every engine)."""
    verifier.verify_snapshot(snapshot)
    evaluator = PKGEvaluator(snapshot)
    log.info("snapshot_validated", version=snapshot.version, checksum=snapshot.checksum)
    return evaluator


class EvaluatorLoader:
    def __init__(
        self,
        source: SnapshotSource,
        link: StoreLink,
        evaluators: EvaluatorCache,
        metrics: ManagerMetrics,
        verifier: SnapshotVerifier = NO_VERIFICATION,
    ) -> None:
        self._source = source
        self.verifier = verifier
        self._link = link
        self._evaluators = evaluators
        self._metrics = metrics
        self._lock = asyncio.Lock()

    async def fetch(self, version: str) -> PKGSnapshotData:
        snapshot = await self._link.call(self._source.get_snapshot_by_version(version))
        if snapshot is None:
            raise NotFoundError(f"snapshot {version} does not exist")
        return snapshot

    async def build(self, snapshot: PKGSnapshotData) -> PKGEvaluator:
        return await asyncio.to_thread(build_evaluator, snapshot, self.verifier)

    def cached(self, version: str) -> PKGEvaluator | None:
        active = self._evaluators.active
        if active is not None and active.version == version:
            return active
        return self._evaluators.get(version)

    async def load(self, version: str) -> PKGEvaluator:
        """Cached, or fetched and built once (concurrent callers wait for the one build)."""
        found = self.cached(version)
        if found is not None:
            return found
        async with self._lock:
            found = self._evaluators.get(version)
            if found is None:
                found = await self.build(await self.fetch(version))
                self._evaluators.put(found)
                self._metrics.set_cached_versions(len(self._evaluators.versions()))
        return found
