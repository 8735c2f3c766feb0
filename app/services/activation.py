"""Activation: load, verify, build and swap in a version, one at a time (DESIGN.md §5).

`Activator` does it: a failure keeps the previous evaluator; every swap leaves its snapshot on
disk as the last known good, which `restore` serves when the database is down at start.
`ActivationRecord` keeps swaps and failures, with their metrics and log events
(`snapshot_activated`, `snapshot_activation_failed`: the seed's names)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.domain.errors import PromotionRefusedError, SignatureError, StoreUnavailableError
from app.services import tracing
from app.services.db_version import DatabaseVersion
from app.services.evaluator import PKGEvaluator
from app.services.evaluator_cache import EvaluatorCache
from app.services.evaluator_loader import EvaluatorLoader
from app.services.last_known_good import LastKnownGood
from app.services.logs import get_logger
from app.services.metrics import ManagerMetrics
from app.services.store_link import StoreLink

log = get_logger("pkg.manager")


class ActivationRecord:
    def __init__(self, evaluators: EvaluatorCache, metrics: ManagerMetrics) -> None:
        self._evaluators = evaluators
        self._metrics = metrics
        self.error: str | None = None
        self.last_activation: float | None = None
        self.source: str | None = None
        self.load_duration_ms: float | None = None
        self.swap_duration_ms: float | None = None
        self.from_cache = False
        self.signature_rejections = 0

    def swap(self, evaluator: PKGEvaluator, *, source: str, started: float) -> None:
        """Make `evaluator` active (one assignment, DESIGN.md §5) and record it."""
        swap_started = time.perf_counter()
        previous = self._evaluators.swap(evaluator)
        self.last_activation = time.time()
        self.source = source
        self.error = None
        self.from_cache = source == "cache"
        self._metrics.hotswap(source)
        self._metrics.observe_load(time.perf_counter() - started)
        self._metrics.set_active_version(evaluator.version)
        self._metrics.set_cached_versions(len(self._evaluators.versions()))
        self.swap_duration_ms = round((time.perf_counter() - swap_started) * 1e3, 4)
        self.load_duration_ms = round((time.perf_counter() - started) * 1e3, 3)
        tracing.record_span(
            "pkg.activate",
            duration_s=time.perf_counter() - started,
            attributes={"pkg.version": evaluator.version, "pkg.source": source},
        )
        log.info(
            "snapshot_activated",
            version=evaluator.version,
            previous_version=previous.version if previous else None,
            source=source,
            swap_duration_ms=self.swap_duration_ms,
            load_duration_ms=self.load_duration_ms,
        )

    def failed(self, version: str, source: str, exc: Exception, started: float) -> None:
        """The previous evaluator stays; health says why (`last_error`)."""
        self.error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, SignatureError):
            self.signature_rejections += 1
            self._metrics.signature_rejected()
        self._metrics.activation_failed()
        self._metrics.set_degraded(True)
        tracing.record_span(
            "pkg.activate",
            duration_s=time.perf_counter() - started,
            attributes={"pkg.version": version, "pkg.source": source},
            error=self.error,
        )
        log.error(
            "snapshot_activation_failed",
            version=version,
            source=source,
            error=str(exc),
            error_type=type(exc).__name__,
            duration_ms=round((time.perf_counter() - started) * 1e3, 3),
        )


class Activator:
    def __init__(
        self,
        *,
        env: str,
        evaluators: EvaluatorCache,
        loader: EvaluatorLoader,
        record: ActivationRecord,
        store: StoreLink,
        disk: LastKnownGood,
        db_version: DatabaseVersion,
        metrics: ManagerMetrics,
        on_swap: Callable[[], None],
        after_swap: Callable[[], None],
    ) -> None:
        """`on_swap` runs under the lock right after a swap, `after_swap` once it is saved."""
        self._env = env
        self._evaluators = evaluators
        self._loader = loader
        self._record = record
        self._store = store
        self._disk = disk
        self._db_version = db_version
        self._metrics = metrics
        self._on_swap = on_swap
        self._after_swap = after_swap
        self._lock = asyncio.Lock()

    def _serving(self, version: str) -> bool:
        active = self._evaluators.active
        if active is None or active.version != version:
            return False
        return self._record.error is None and not self._record.from_cache

    async def activate(self, version: str, *, source: str) -> bool:
        async with self._lock:
            if self._serving(version):
                return True  # already serving it (e.g. our own publish coming back)
            started = time.perf_counter()
            log.info("snapshot_load_start", version=version, source=source)
            try:
                snapshot = await self._loader.fetch(version)
                if snapshot.env != self._env:
                    raise PromotionRefusedError(
                        f"snapshot {version} belongs to env {snapshot.env}, not {self._env}"
                    )
                evaluator = await self._loader.build(snapshot)
            except Exception as exc:
                self._failed(version, source, exc, started)
                return False
            self._record.swap(evaluator, source=source, started=started)
            self._on_swap()
            await self._db_version.note()
        await self._disk.save(evaluator.snapshot)
        self._after_swap()
        return True

    async def restore(self) -> None:
        """Serve the last-known-good snapshot from disk (degraded), if there is one."""
        started = time.perf_counter()
        try:
            snapshot = await self._disk.load(self._env)
            if snapshot is None:
                return
            evaluator = await self._loader.build(snapshot)
        except Exception as exc:
            self._failed("last-known-good", "cache", exc, started)
            return
        self._record.swap(evaluator, source="cache", started=started)
        self._metrics.set_degraded(True)

    def _failed(self, version: str, source: str, exc: Exception, started: float) -> None:
        if isinstance(exc, StoreUnavailableError):
            self._store.unreachable(exc)
        self._record.failed(version, source, exc, started)
