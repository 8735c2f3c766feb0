"""One replica's record of activations: swaps and failures, with their metrics and log events
(`snapshot_activated`, `snapshot_activation_failed`: the seed's names)."""

from __future__ import annotations

import time

import structlog

from app.domain.errors import SignatureError
from app.services import tracing
from app.services.evaluator import PKGEvaluator
from app.services.evaluator_cache import EvaluatorCache
from app.services.metrics import ManagerMetrics

log = structlog.get_logger("pkg.manager")


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
            timestamp=self.last_activation,
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
            timestamp=time.time(),
        )
