"""The console's pure parts: the rule-by-rule diff, the live numbers read from an exposition,
the divergence history and its chart."""

from __future__ import annotations

import math
from typing import Any

from app.api.ui.charts import share_chart
from app.api.ui.live import Sample, numbers, quantile, sample_of
from app.api.ui.rule_diff import diff_rules
from app.api.ui.views import ShadowHistory

EXPOSITION = """\
# HELP pkg_decisions_total Decisions
# TYPE pkg_decisions_total counter
pkg_decisions_total{engine="native",lane="active",outcome="matched"} 90.0
pkg_decisions_total{engine="native",lane="active",outcome="error"} 10.0
pkg_decision_duration_seconds_bucket{engine="native",lane="active",le="1e-05"} 50.0
pkg_decision_duration_seconds_bucket{engine="native",lane="active",le="0.0001"} 99.0
pkg_decision_duration_seconds_bucket{engine="native",lane="active",le="+Inf"} 100.0
pkg_http_requests_total{method="GET",route="/x{y}",status="200"} 3.0
"""


def test_rules_are_matched_by_name_and_compared_field_by_field() -> None:
    before: list[dict[str, Any]] = [
        {"name": "a", "priority": 1},
        {"name": "gone"},
        {"name": "same"},
    ]
    after: list[dict[str, Any]] = [{"name": "same"}, {"name": "a", "priority": 2}, {"name": "new"}]
    changes = {c.name: c for c in diff_rules(before, after)}
    assert {n: c.status for n, c in changes.items()} == {
        "same": "same", "a": "changed", "new": "added", "gone": "removed",
    }  # fmt: skip
    assert [(f.name, f.before, f.after) for f in changes["a"].fields] == [("priority", 1, 2)]


def test_the_exposition_gives_decisions_errors_and_the_p99() -> None:
    sample = sample_of(EXPOSITION, at=100.0)
    assert (sample.decisions, sample.errors) == (100.0, 10.0)
    figures = numbers(sample, None)
    assert figures.rate is None and figures.error_share == 0.1
    assert figures.p99_s is not None and math.isclose(figures.p99_s, 1e-4)  # rank 99 of 100


def test_a_poll_rates_the_interval_since_the_sample_it_carries() -> None:
    before = sample_of(EXPOSITION.replace("90.0", "40.0"), at=100.0)
    carried = Sample.from_query(before.query())
    assert carried == before
    figures = numbers(sample_of(EXPOSITION, at=110.0), carried)
    assert figures.interval_s == 10.0 and figures.rate == 5.0
    assert figures.error_share == 0.0  # no new errors among the 50 new decisions


def test_a_malformed_or_backwards_sample_starts_over() -> None:
    assert Sample.from_query({"at": "x", "n": "1", "e": "0"}) is None
    later = sample_of(EXPOSITION, at=100.0)
    restarted = Sample(200.0, 5.0, 0.0, later.buckets)
    assert numbers(restarted, later).interval_s is None


def test_quantile_interpolates_like_prometheus() -> None:
    assert quantile(0.5, ((1.0, 0.0), (2.0, 10.0), (math.inf, 10.0))) == 1.5
    assert quantile(0.99, ((1.0, 0.0), (math.inf, 10.0))) == 1.0
    assert quantile(0.99, ()) is None


def test_history_charts_the_divergence_between_readings() -> None:
    history = ShadowHistory()
    for totals in (
        {"identical": 8, "different": 2, "evaluated": 12},  # two still being compared
        {"identical": 8, "different": 2, "evaluated": 14},  # nothing newly decided: no point
        {"identical": 10, "different": 10, "evaluated": 20},
    ):
        history.record(1, "v", totals)
    shares = [share for _, share in history.shares(1, "v")]
    assert shares == [0.2, 0.8]
    chart = share_chart("t", history.shares(1, "v"))
    assert len(chart.points) == 2 and chart.y_ticks[-1].label == "100 %"
    assert [t.anchor for t in chart.x_ticks] == ["start", "end"]
