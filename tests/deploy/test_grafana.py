"""The Grafana dashboard (deploy/grafana/pkg-dashboard.json, issue 29) works on any Prometheus:
every panel and query takes the `${datasource}` variable, never a hard-coded uid; every series
any query names is one the app's metrics registry exports (app/adapters/observability/
metrics.py, as on the wire); latency panels plot quantiles over histogram buckets in seconds,
never a rate; shadow divergence and signature rejections have panels of their own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from app.adapters.observability.metrics import PrometheusMetrics
from bench.server import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "pkg-dashboard.json"
VARIABLE = {"type": "prometheus", "uid": "${datasource}"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset"}
# histogram_quantile(q, sum by (le[, label...]) (rate(<histogram>_bucket[5m])))
QUANTILE = re.compile(
    r"histogram_quantile\((0\.\d+), sum by \(le(?:, \w+)*\) \(rate\((\w+)_bucket\[5m\]\)\)\)"
)
SHADOW = "pkg_shadow_decisions_total"
SIGNATURE = "pkg_snapshot_signature_rejections_total"


@cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return list(dashboard()["panels"])


@cache
def registry_series() -> frozenset[str]:
    """Every series name the app's registry puts on the wire, labelled ones before their first
    sample included."""
    text = PrometheusMetrics().render().decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
    return frozenset(names)


def series_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label matchers,
    ranges, grouping clauses, function calls, numbers and operators are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = re.findall(r"(?<![\w.])([A-Za-z_:][\w:]*)\b(?!\s*\()", text)
    return {name for name in names if name not in PROMQL_WORDS}


def exprs(panel: dict[str, Any]) -> list[str]:
    return [target["expr"] for target in panel["targets"]]


def unit(panel: dict[str, Any]) -> str | None:
    found: str | None = panel["fieldConfig"]["defaults"].get("unit")
    return found


def datasources(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasources(item)


def test_the_promql_reader_finds_the_series_and_nothing_else() -> None:
    expr = (
        'sum by (le, route) (rate(pkg_a_bucket{route=~"/x|y"}[5m])) / clamp_min(sum(rate(pkg_b_'
        "total[1m] offset 5m)), 1e-9) and on (instance) max(up) == 1"
    )
    assert series_in(expr) == {"pkg_a_bucket", "pkg_b_total", "up"}


def test_the_dashboard_asks_for_a_prometheus_datasource() -> None:
    (variable,) = [v for v in dashboard()["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")


def test_every_panel_and_query_uses_the_datasource_variable() -> None:
    for panel in panels():
        assert panel["datasource"] == VARIABLE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == VARIABLE, (panel["title"], target["refId"])
    assert all(found == VARIABLE for found in datasources(dashboard()))
    assert "pkg-prometheus" not in DASHBOARD.read_text()  # the compose datasource's uid


def test_every_panel_queries_series_the_app_exports() -> None:
    queried = {name for panel in panels() for expr in exprs(panel) for name in series_in(expr)}
    assert {SHADOW, SIGNATURE} <= queried
    assert len(queried) >= 15
    assert queried <= registry_series(), sorted(queried - registry_series())


def test_latency_panels_plot_quantiles_over_buckets_in_seconds() -> None:
    p99 = [panel for panel in panels() if "p99" in panel["title"]]
    assert len(p99) == 2
    for panel in p99:
        assert unit(panel) == "s", panel["title"]
        quantiles = [QUANTILE.fullmatch(expr) for expr in exprs(panel)]
        matched = [match for match in quantiles if match is not None]
        assert len(matched) == len(quantiles), (panel["title"], exprs(panel))
        assert "0.99" in {match[1] for match in matched}
        assert {f"{match[2]}_bucket" for match in matched} <= registry_series()


def test_no_panel_in_seconds_plots_a_counter_rate() -> None:
    for panel in panels():
        if unit(panel) != "s":
            continue
        for expr in exprs(panel):
            for name in series_in(expr):
                assert name.endswith(("_bucket", "_seconds")), (panel["title"], expr)


def test_shadow_divergence_has_a_panel_of_its_own() -> None:
    (panel,) = [p for p in panels() if SHADOW in " ".join(exprs(p))]
    assert "divergence" in panel["title"].lower()
    assert unit(panel) == "percentunit"
    (expr,) = exprs(panel)
    numerator, denominator = expr.split(" / ", 1)
    assert 'result=~"different|error"' in numerator  # as the promotion guard counts divergence
    assert 'result!="dropped"' in denominator and "by (lane)" in denominator


def test_signature_rejections_have_a_panel_of_their_own() -> None:
    (panel,) = [p for p in panels() if SIGNATURE in " ".join(exprs(p))]
    assert "signature" in panel["title"].lower()
    assert all(expr.startswith("sum") and "increase(" in expr for expr in exprs(panel))


def test_panels_have_distinct_ids_and_do_not_overlap() -> None:
    assert len({panel["id"] for panel in panels()}) == len(panels())
    cells: set[tuple[int, int]] = set()
    for panel in panels():
        grid = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, panel["title"]
        assert grid["x"] + grid["w"] <= 24
        cells |= mine
