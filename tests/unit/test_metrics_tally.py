"""The per-request series are tallied and folded: what a scrape shows is exactly what
prometheus_client would show had every observation gone to it directly."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.adapters.observability.metrics import EVAL_BUCKETS, HTTP_BUCKETS, PrometheusMetrics

# values on the bucket bounds, between them, below the first and above the last
SECONDS = [0.0, 0.00001, 0.0000101, 0.0005, 0.00049, 0.001, 0.0025, 0.7, 2.5, 3.0, 42.0]


def samples(text: str, *names: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(names)
    }


def direct(seconds: list[float]) -> str:
    """The same observations made on prometheus_client's own objects."""
    registry = CollectorRegistry()
    http = Histogram(
        "pkg_http_request_duration_seconds",
        "x",
        ["method", "route", "status"],
        buckets=HTTP_BUCKETS,
        registry=registry,
    )
    requests = Counter("pkg_http_requests", "x", ["method", "route", "status"], registry=registry)
    evaluation = Histogram(
        "pkg_evaluation_duration_seconds", "x", ["engine"], buckets=EVAL_BUCKETS, registry=registry
    )
    decisions = Counter("pkg_decisions", "x", ["engine", "lane", "outcome"], registry=registry)
    fired = Counter("pkg_rules_fired", "x", ["engine", "lane"], registry=registry)
    for value in seconds:
        http.labels("POST", "/evaluate", "200").observe(value)
        requests.labels("POST", "/evaluate", "200").inc()
        evaluation.labels("native").observe(value)
        decisions.labels("native", "active", "matched").inc()
        fired.labels("native", "active").inc(3)
    return generate_latest(registry).decode()


def tallied(metrics: PrometheusMetrics, seconds: list[float]) -> None:
    for value in seconds:
        metrics.observe_request("POST", "/evaluate", 200, value)
        metrics.observe_evaluation("native", value)
        metrics.observe_decision(
            engine="native", lane="active", outcome="matched", rules_fired=3, seconds=value
        )


NAMES = (
    "pkg_http_request_duration_seconds",
    "pkg_http_requests_total",
    "pkg_evaluation_duration_seconds",
    "pkg_decisions_total",
    "pkg_rules_fired_total",
)


def test_a_scrape_shows_every_tallied_observation_in_its_bucket() -> None:
    metrics = PrometheusMetrics()
    tallied(metrics, SECONDS)
    shown = samples(metrics.render().decode(), *NAMES)
    expected = samples(direct(SECONDS), *NAMES)
    assert shown == expected
    assert shown[("pkg_decisions_total", frozenset(DECIDED.items()))] == len(SECONDS)


DECIDED = {"engine": "native", "lane": "active", "outcome": "matched"}


def test_folding_twice_counts_nothing_twice() -> None:
    metrics = PrometheusMetrics()
    tallied(metrics, SECONDS)
    metrics.fold()
    metrics.fold()
    tallied(metrics, SECONDS[:3])
    shown = samples(metrics.render().decode(), *NAMES)
    assert shown == samples(direct(SECONDS + SECONDS[:3]), *NAMES)


def test_the_decision_duration_histogram_folds_too() -> None:
    metrics = PrometheusMetrics()
    tallied(metrics, [0.00002, 0.2])
    shown = samples(metrics.render().decode(), "pkg_decision_duration_seconds")
    labels = frozenset({"engine": "native", "lane": "active"}.items())
    assert shown[("pkg_decision_duration_seconds_count", labels)] == 2
    assert shown[("pkg_decision_duration_seconds_sum", labels)] == 0.20002
    inf = frozenset({**dict(labels), "le": "+Inf"}.items())
    first = frozenset({**dict(labels), "le": "2.5e-05"}.items())
    assert shown[("pkg_decision_duration_seconds_bucket", inf)] == 2
    assert shown[("pkg_decision_duration_seconds_bucket", first)] == 1
