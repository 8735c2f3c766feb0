"""Prometheus metrics (the seed's list), one registry per app so tests can build many apps."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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
            "pkg_active_version", "1 for the active snapshot version", ["version"], registry=r
        )
        self.cached_versions = Gauge(
            "pkg_cached_versions_count", "Evaluators held in the LRU", registry=r
        )
        self.degraded = Gauge("pkg_degraded_mode", "1 while degraded", registry=r)
        self._version: str | None = None

    def observe_load(self, seconds: float) -> None:
        self.load_duration.observe(seconds)

    def observe_evaluation(self, engine: str, seconds: float) -> None:
        self.evaluation_duration.labels(engine=engine).observe(seconds)

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
            self.active_version.remove(self._version)
        if version is not None:
            self.active_version.labels(version=version).set(1)
        self._version = version

    def set_cached_versions(self, count: int) -> None:
        self.cached_versions.set(count)

    def set_degraded(self, degraded: bool) -> None:
        self.degraded.set(1 if degraded else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
