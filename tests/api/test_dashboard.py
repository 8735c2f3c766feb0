"""The Grafana dashboard parses, every series it queries is on /metrics, and docker-compose
provisions it behind the `monitoring` profile."""

from __future__ import annotations

import json
from typing import Any

import httpx
import re2
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.server import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "pkg-dashboard.json"
SERIES = re2.compile(r"\b((?:pkg|process|python)_[a-z0-9_]+)\b")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}


def exposed(text: str) -> set[str]:
    """Every series name /metrics can carry, from its families (labelled ones included, even
    before their first sample)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def queried(dashboard: dict[str, Any]) -> set[str]:
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return {name for expr in exprs for name in SERIES.findall(expr)}


async def test_every_series_the_dashboard_queries_is_on_metrics(api: httpx.AsyncClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = queried(dashboard)

    available = exposed((await api.get("/metrics")).text)

    assert len(names) >= 10
    assert names <= available, sorted(names - available)


def test_the_dashboard_covers_what_operators_ask_for() -> None:
    names = queried(json.loads(DASHBOARD.read_text()))

    assert {
        "pkg_decisions_total",
        "pkg_decision_duration_seconds_bucket",
        "pkg_active_version",
        "pkg_swaps_total",
        "pkg_activation_failures_total",
        "pkg_degraded_mode",
        "pkg_active_since_timestamp_seconds",
        "pkg_decision_log_dropped_total",
    } <= names


def test_compose_provisions_prometheus_and_grafana_behind_the_monitoring_profile() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            assert (ROOT / volume.split(":")[0]).exists(), volume
    assert all("profiles" not in services[name] for name in ("postgres", "pkg-a", "pkg-b"))
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert {target.split(":")[0] for target in targets} <= set(services)
