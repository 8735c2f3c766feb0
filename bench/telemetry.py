"""What the per-request telemetry middleware (request id, log context, HTTP metrics by route
template) and one `DecisionLog.offer` cost, in microseconds, measured in-process.

    .venv/bin/python -m bench.telemetry [--requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    result = asyncio.run(measure(args.requests))
    print(f"RequestTelemetry middleware: {result['middleware_us']:.2f} µs per request")
    print(f"DecisionLog.offer (log off: count + outcome): {result['offer_off_us']:.2f} µs")


if __name__ == "__main__":
    main()
