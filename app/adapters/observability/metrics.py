"""Prometheus metrics (the seed's list), one registry per app so tests can build many apps.

With several worker processes (`pkgctl serve --workers N`) prometheus-client runs in its
multiprocess mode: `PROMETHEUS_MULTIPROC_DIR` is set (created and emptied by
`app.serving.metrics_directory` before the workers start), every process writes its values
to files there, and `/metrics` on any worker reads them all: counters and histograms are
summed; each gauge says how to combine (`multiprocess_mode`, `livemax` here: the highest value
among the workers alive, a worker's values go when it stops). Define new metrics in
`PrometheusMetrics.__init__` like the ones there; gauges need a `multiprocess_mode`.
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

EVAL_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1)


class PrometheusMetrics:
    """Implements `app.services.metrics.ManagerMetrics` on prometheus_client."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.load_duration = Histogram(
            "pkg_snapshot_load_duration_seconds", "Snapshot load + compile time", registry=r
        )
        self.evaluation_duration = Histogram(
            "pkg_evaluation_duration_seconds",
            "Policy evaluation time",
            ["engine"],
            buckets=EVAL_BUCKETS,
            registry=r,
        )
        self.hotswaps = Counter("pkg_hotswap_count", "Evaluator swaps", registry=r)
        self.activation_failures = Counter(
            "pkg_activation_failures",
            "Activations that failed and kept the old evaluator",
            registry=r,
        )
        self.signature_rejections = Counter(
            "pkg_snapshot_signature_rejections",
            "Snapshots refused at activation: signature missing, by an unknown key, or invalid",
            registry=r,
        )
        self.redis_reconnects = Counter(
            "pkg_redis_reconnect_count", "Reconnects of the change feed", registry=r
        )
        self.publish_failures = Counter(
            "pkg_publish_failures", "Change messages that could not be published", registry=r
        )
        self.active_version = Gauge(
            "pkg_active_version",
            "1 for the active snapshot version",
            ["version"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.cached_versions = Gauge(
            "pkg_cached_versions_count",
            "Evaluators held in the LRU",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.degraded = Gauge(
            "pkg_degraded_mode", "1 while degraded", multiprocess_mode="livemax", registry=r
        )
        self._version: str | None = None
        self._evaluation_by_engine: dict[str, Histogram] = {}

    def observe_load(self, seconds: float) -> None:
        self.load_duration.observe(seconds)

    def observe_evaluation(self, engine: str, seconds: float) -> None:
        child = self._evaluation_by_engine.get(engine)
        if child is None:  # `labels()` takes a lock and builds a key: once per engine
            child = self._evaluation_by_engine[engine] = self.evaluation_duration.labels(engine)
        child.observe(seconds)

    def hotswap(self) -> None:
        self.hotswaps.inc()

    def activation_failed(self) -> None:
        self.activation_failures.inc()

    def signature_rejected(self) -> None:
        self.signature_rejections.inc()

    def redis_reconnect(self) -> None:
        self.redis_reconnects.inc()

    def publish_failed(self) -> None:
        self.publish_failures.inc()

    def set_active_version(self, version: str | None) -> None:
        if self._version is not None and self._version != version:
            if multiprocess_dir() is None:
                self.active_version.remove(self._version)
            else:  # a series can't be removed from the shared files: it reads 0
                self.active_version.labels(version=self._version).set(0)
        if version is not None:
            self.active_version.labels(version=version).set(1)
        self._version = version

    def set_cached_versions(self, count: int) -> None:
        self.cached_versions.set(count)

    def set_degraded(self, degraded: bool) -> None:
        self.degraded.set(1 if degraded else 0)

    def render(self) -> bytes:
        if multiprocess_dir() is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(registry)

    def close(self) -> None:
        """This process stops: its live gauges leave the shared files (multiprocess mode)."""
        if multiprocess_dir() is not None:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # untyped upstream


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None
