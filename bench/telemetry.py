"""What the per-request telemetry middleware (request id, log context, HTTP metrics by route
template) and one `DecisionLog.offer` cost, in microseconds, measured in-process; and one HTTP
metrics update as PKG makes it (a tally, folded later) against the same update made directly on
prometheus-client's counter and histogram.

    .venv/bin/python -m bench.telemetry [--requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from app.adapters.observability.metrics import PrometheusMetrics
from app.api.telemetry import RequestTelemetry
from app.services.decision_log import DecisionLog

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/evaluate",
    "headers": [(b"content-type", b"application/json")],
}
RESULT = {
    "decision_id": "0" * 32,
    "snapshot": "rules@1",
    "engine": "native",
    "lane": "active",
    "duration_ms": 0.01,
    "rules": [{"rule_id": "r", "rule_name": "a"}],
    "subtasks": [{"name": "x"}],
}


async def _endpoint(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _send(_message: Any) -> None:
    pass


async def _receive() -> Any:
    return {"type": "http.request", "body": b""}


async def _per_call_us(app: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await app(dict(SCOPE), _receive, _send)
    return (time.perf_counter() - started) / n * 1e6


async def measure(n: int) -> dict[str, float]:
    metrics = PrometheusMetrics()
    wrapped = RequestTelemetry(_endpoint, metrics=metrics)
    bare: list[float] = []
    with_mw: list[float] = []
    for _ in range(5):
        bare.append(await _per_call_us(_endpoint, n))
        with_mw.append(await _per_call_us(wrapped, n))
    log = DecisionLog(metrics=metrics)
    started = time.perf_counter()
    for _ in range(n):
        log.offer(RESULT, facts={}, role="admin")
    offer = (time.perf_counter() - started) / n * 1e6
    return {
        "middleware_us": statistics.median(with_mw) - statistics.median(bare),
        "offer_off_us": offer,
        "tally_us": _update_us(lambda: metrics.observe_request("POST", "/evaluate", 200, 2e-4), n),
        "direct_us": _update_us(_direct_update(), n),
    }


def _direct_update() -> Callable[[], None]:
    """`observe_request` without the tallies: straight to prometheus-client's children."""
    direct = PrometheusMetrics()
    requests = direct.http_requests.labels("POST", "/evaluate", "200")
    duration = direct.http_duration.labels("POST", "/evaluate", "200")

    def update() -> None:
        requests.inc()
        duration.observe(2e-4)

    return update


def _update_us(update: Callable[[], None], n: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            update()
        runs.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    result = asyncio.run(measure(args.requests))
    print(f"RequestTelemetry middleware: {result['middleware_us']:.2f} µs per request")
    print(f"DecisionLog.offer (log off: count + outcome): {result['offer_off_us']:.2f} µs")
    print(
        f"HTTP metrics update: {result['tally_us']:.2f} µs tallied, "
        f"{result['direct_us']:.2f} µs on prometheus-client directly"
    )


if __name__ == "__main__":
    main()
