"""Prometheus metrics (the seed's list and what operators ask for), one registry per app so tests
can build many apps. README "Metrics" lists every series with its name on the wire.

Gauges say how they combine across workers (`multiprocess_mode`) for the multiprocess mode
(`PROMETHEUS_MULTIPROC_DIR`); in one process the mode is ignored.

The series counted on every request (decisions, rules fired, decision and evaluation time,
HTTP requests and latency) are tallied in plain Python numbers and folded into
prometheus_client's values by `fold()`: before every exposition, and every `FOLD_EVERY_S`
while the service runs (`fold_periodically`). A tally costs a tenth of what a
prometheus_client update does (a lock per value, a linear walk of the buckets); the price is
that another worker's last second shows on the next scrape but one.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

EVAL_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1)
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The seed names these two counters without `_total`; prometheus_client always exports a counter
# as `<name>_total`. Both names are on the wire: the counter, and the seed's name as an alias.
SEED_COUNTERS: Final = ("pkg_hotswap_count", "pkg_redis_reconnect_count")
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
FOLD_EVERY_S: Final = 1.0


class CountTally:
    """Increments of one counter child, waiting for `fold`."""

    __slots__ = ("child", "pending")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.pending = 0

    def fold(self) -> None:
        if self.pending:
            pending, self.pending = self.pending, 0
            self.child.inc(pending)


class HistogramTally:
    """Observations of one histogram child, bucketed as prometheus_client buckets them (the
    first upper bound >= the value), waiting for `fold`."""

    __slots__ = ("bounds", "child", "counts", "total")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.bounds: list[float] = list(child._upper_bounds)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def fold(self) -> None:
        counts, total = self.counts, self.total
        if not any(counts):
            return
        self.counts, self.total = [0] * len(counts), 0.0
        for bucket, count in zip(self.child._buckets, counts, strict=True):
            if count:
                bucket.inc(count)
        self.child._sum.inc(total)


class SeedNames(Collector):
    """Everything `source` collects, plus each seed counter under the seed's exact name."""

    def __init__(self, source: Collector) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        for family in self.source.collect():
            yield family
            if family.type == "counter" and family.name in SEED_COUNTERS:
                yield _alias(family)


def _alias(family: Metric) -> Metric:
    alias = Metric(family.name, f"{family.documentation} (the seed's name)", "unknown")
    for sample in family.samples:
        if sample.name == f"{family.name}_total":
            alias.add_sample(family.name, sample.labels, sample.value)
    return alias


def add_default_collectors(registry: CollectorRegistry) -> None:
    """`process_*`, `python_info` and `python_gc_*`, as the global registry has them."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


class PrometheusMetrics:
    """Implements `app.services.metrics.ManagerMetrics` and `DecisionMetrics`, and the HTTP
    middleware's `observe_request`, on prometheus_client."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin of every counter and histogram
        if registry is None:
            registry = CollectorRegistry()
            add_default_collectors(registry)
        self.registry = registry
        self._define_seed_metrics(registry)
        self._define_operator_metrics(registry)
        self._exposition = CollectorRegistry(auto_describe=False)
        self._exposition.register(SeedNames(registry))
        self._version: str | None = None
        self._decision_children: dict[
            tuple[str, str, str], tuple[CountTally, HistogramTally, CountTally]
        ] = {}
        self._http_children: dict[tuple[str, str, int], tuple[CountTally, HistogramTally]] = {}
        self._evaluation_by_engine: dict[str, HistogramTally] = {}
        self._tallies: list[CountTally | HistogramTally] = []
        self._confirmation_age: Callable[[], float] | None = None

    def _tally(self, tally: Any) -> Any:
        self._tallies.append(tally)
        return tally

    def fold(self) -> None:
        """Move every tally into prometheus_client's values (the event loop's thread only)."""
        for tally in self._tallies:
            tally.fold()
        if self._confirmation_age is not None:  # an age: read when it is exposed
            self.confirmation_age.set(self._confirmation_age())

    async def fold_periodically(self, every_s: float = FOLD_EVERY_S) -> None:
        """Fold every `every_s` until cancelled (the lifespan runs one per worker)."""
        while True:
            await asyncio.sleep(every_s)
            self.fold()

    def _define_seed_metrics(self, r: CollectorRegistry) -> None:
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
        self.redis_reconnects = Counter(
            "pkg_redis_reconnect_count", "Reconnects of the change feed", registry=r
        )
        self.active_version = Gauge(
            "pkg_active_version",
            "1 for the snapshot version this replica serves, 0 for versions it served before",
            ["version"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.cached_versions = Gauge(
            "pkg_cached_versions_count",
            "Evaluators held in the LRU",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.degraded = Gauge(
            "pkg_degraded_mode", "1 while degraded", registry=r, multiprocess_mode="livemax"
        )
        self.confirmation_age = Gauge(
            "pkg_active_version_confirmation_age_seconds",
            "Seconds since this replica last confirmed its active version against the database",
            registry=r,
            multiprocess_mode="livemax",
        )

    def _define_operator_metrics(self, r: CollectorRegistry) -> None:
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
        self.publish_failures = Counter(
            "pkg_publish_failures", "Change messages that could not be published", registry=r
        )
        self.swaps = Counter(
            "pkg_swaps",
            "Evaluator swaps by what caused them (startup, redis, reconcile, resubscribe, cache)",
            ["source"],
            registry=r,
        )
        self.active_since = Gauge(
            "pkg_active_since_timestamp_seconds",
            "Unix time the served snapshot was swapped in",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.decisions = Counter(
            "pkg_decisions",
            "Decisions by engine, lane and outcome (matched, no_match, error)",
            ["engine", "lane", "outcome"],
            registry=r,
        )
        self.decision_duration = Histogram(
            "pkg_decision_duration_seconds",
            "Decision time (the evaluation) by engine and lane",
            ["engine", "lane"],
            buckets=EVAL_BUCKETS,
            registry=r,
        )
        self.rules_fired = Counter(
            "pkg_rules_fired", "Rules fired, summed over decisions", ["engine", "lane"], registry=r
        )
        self.http_requests = Counter(
            "pkg_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "pkg_http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.decision_log_dropped_total = Counter(
            "pkg_decision_log_dropped", "Decision-log records dropped: queue full", registry=r
        )
        self.decision_log_written_total = Counter(
            "pkg_decision_log_written", "Decision-log records written to the sink", registry=r
        )
        self.decision_log_failures = Counter(
            "pkg_decision_log_write_failures",
            "Decision-log records lost because the sink failed",
            registry=r,
        )
        self.decision_log_queue = Gauge(
            "pkg_decision_log_queue_size",
            "Decision-log records waiting to be written",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.shadow_decisions = Counter(
            "pkg_shadow_decisions",
            "Shadow-lane evaluations by outcome (identical, different, error, dropped)",
            ["lane", "result"],
            registry=r,
        )

    # ------------------------------------------------------------------ ManagerMetrics
    def observe_load(self, seconds: float) -> None:
        self.load_duration.observe(seconds)

    def observe_evaluation(self, engine: str, seconds: float) -> None:
        tally = self._evaluation_by_engine.get(engine)
        if tally is None:  # `labels()` takes a lock and builds a key: once per engine
            tally = self._evaluation_by_engine[engine] = self._tally(
                HistogramTally(self.evaluation_duration.labels(engine))
            )
        tally.counts[bisect_left(tally.bounds, seconds)] += 1  # `observe`, inline
        tally.total += seconds

    def hotswap(self, source: str = "unknown") -> None:
        self.hotswaps.inc()
        self.swaps.labels(source=source).inc()

    def activation_failed(self) -> None:
        self.activation_failures.inc()

    def signature_rejected(self) -> None:
        self.signature_rejections.inc()

    def redis_reconnect(self) -> None:
        self.redis_reconnects.inc()

    def publish_failed(self) -> None:
        self.publish_failures.inc()

    def set_active_version(self, version: str | None) -> None:
        # 0, not removed: a removed series lives on in a worker's file in multiprocess mode
        if self._version is not None and self._version != version:
            self.active_version.labels(version=self._version).set(0)
        if version is not None:
            self.active_version.labels(version=version).set(1)
            self.active_since.set_to_current_time()
        self._version = version

    def set_cached_versions(self, count: int) -> None:
        self.cached_versions.set(count)

    def set_degraded(self, degraded: bool) -> None:
        self.degraded.set(1 if degraded else 0)

    def watch_confirmation_age(self, age: Callable[[], float]) -> None:
        """`age()` is read on every fold: before each exposition and every `FOLD_EVERY_S`."""
        self._confirmation_age = age
        self.confirmation_age.set(age())

    def shadow_decision(self, lane: str, result: str) -> None:
        self.shadow_decisions.labels(lane=lane, result=result).inc()

    # ------------------------------------------------------------------ DecisionMetrics
    def observe_decision(
        self, *, engine: str, lane: str, outcome: str, rules_fired: int, seconds: float
    ) -> None:
        key = (engine, lane, outcome)
        tallies = self._decision_children.get(key)
        if tallies is None:  # `labels()` takes a lock and builds a key: once per label set
            tallies = self._decision_children[key] = (
                self._tally(CountTally(self.decisions.labels(engine, lane, outcome))),
                self._tally(HistogramTally(self.decision_duration.labels(engine, lane))),
                self._tally(CountTally(self.rules_fired.labels(engine, lane))),
            )
        decisions, duration, fired = tallies
        decisions.pending += 1
        duration.counts[bisect_left(duration.bounds, seconds)] += 1
        duration.total += seconds
        fired.pending += rules_fired

    def decision_log_dropped(self) -> None:
        self.decision_log_dropped_total.inc()

    def decision_log_written(self, count: int) -> None:
        self.decision_log_written_total.inc(count)

    def decision_log_write_failed(self, count: int) -> None:
        self.decision_log_failures.inc(count)

    def set_decision_log_queue(self, size: int) -> None:
        self.decision_log_queue.set(size)

    # ------------------------------------------------------------------ HTTP
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        tallies = self._http_children.get(key)
        if tallies is None:
            code = str(status)
            tallies = self._http_children[key] = (
                self._tally(CountTally(self.http_requests.labels(method, route, code))),
                self._tally(HistogramTally(self.http_duration.labels(method, route, code))),
            )
        requests, duration = tallies
        requests.pending += 1
        duration.counts[bisect_left(duration.bounds, seconds)] += 1
        duration.total += seconds

    def render(self) -> bytes:
        self.fold()  # this worker's counts are on the scrape it answers
        return generate_latest(self._exposition_registry())

    def _exposition_registry(self) -> CollectorRegistry:
        """One process: this registry. Several workers (`PROMETHEUS_MULTIPROC_DIR` set): every
        worker's values from the shared files, plus the default collectors of the process that
        answers the scrape (prometheus-client cannot sum `process_*` across processes)."""
        if multiprocess_dir() is None:
            return self._exposition
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]  # untyped upstream
        exposition = CollectorRegistry(auto_describe=False)
        exposition.register(SeedNames(combined))
        add_default_collectors(exposition)
        return exposition

    def close(self) -> None:
        """This process stops: its counts are folded in, its live gauges leave the shared files
        (multiprocess mode)."""
        self.fold()
        if multiprocess_dir() is not None:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # untyped upstream


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None
