"""Several worker processes (prometheus-client's multiprocess mode, `PROMETHEUS_MULTIPROC_DIR`):
what each worker counts adds up on the scrape any one of them answers, the seed's names
included; a stopped worker's live gauges leave."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.server import ROOT

WORKER = """
from app.adapters.observability.metrics import PrometheusMetrics
m = PrometheusMetrics()
for _ in range({decisions}):
    m.observe_decision(engine="native", lane="active", outcome="matched", rules_fired=2,
                       seconds=0.0001)
m.hotswap("startup")
m.set_decision_log_queue({queued})
m.fold()  # what a running worker does every second
{close}
"""
SCRAPE = """
import sys
from app.adapters.observability.metrics import PrometheusMetrics
sys.stdout.write(PrometheusMetrics().render().decode())
"""


def run(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_workers_counters_add_up_and_a_stopped_workers_gauge_goes(tmp_path: Path) -> None:
    run(WORKER.format(decisions=3, queued=4, close=""), tmp_path)
    run(WORKER.format(decisions=5, queued=6, close="m.close()"), tmp_path)

    scraped = values(run(SCRAPE, tmp_path))

    labels = frozenset({("engine", "native"), ("lane", "active"), ("outcome", "matched")})
    assert scraped[("pkg_decisions_total", labels)] == 8
    fired = frozenset({("engine", "native"), ("lane", "active")})
    assert scraped[("pkg_rules_fired_total", fired)] == 16
    assert scraped[("pkg_hotswap_count", frozenset())] == 2  # the seed's name, summed
    assert scraped[("pkg_hotswap_count_total", frozenset())] == 2
    assert scraped[("pkg_swaps_total", frozenset({("source", "startup")}))] == 2
    # livesum over live workers: the first never called close() (its pid file stays "live"
    # in this test), the second did
    assert scraped[("pkg_decision_log_queue_size", frozenset())] == 4
    assert ("process_cpu_seconds_total", frozenset()) in scraped
