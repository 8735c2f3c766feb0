"""`/evaluate` over real HTTP vs a constant endpoint of the same server, in one run.

    .venv/bin/python -m bench.http [--requests 3000] [--concurrency 8] [--rounds 5]

Starts `pkgctl serve` (embedded SQLite, the demo policy), then alternates rounds of
`POST /evaluate` (the demo fixtures' facts) and `GET /health/ready` (a constant JSON answer that
goes through the same middleware and routing). Reports median requests/s and latency per
endpoint and the ratio: how much of the HTTP cost is the decision itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.server import ROOT, ServerProcess


async def _round(
    client: httpx.AsyncClient, method: str, path: str, bodies: list[Any], total: int, workers: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for index in counter:
            body = bodies[index % len(bodies)] if bodies else None
            started = time.perf_counter()
            response = await client.request(method, path, json=body)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return total / (time.perf_counter() - started), latencies


async def measure(url: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    document = yaml.safe_load((ROOT / "examples" / "hotel_ops.yaml").read_text())
    facts = [fixture["input"] for fixture in document["fixtures"]]
    targets = {
        "POST /evaluate": ("POST", "/evaluate", facts),
        "GET /health/ready": ("GET", "/health/ready", []),
    }
    rates: dict[str, list[float]] = {name: [] for name in targets}
    p50s: dict[str, list[float]] = {name: [] for name in targets}
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        for method, path, bodies in targets.values():  # warm-up
            await _round(client, method, path, bodies, 200, args.concurrency)
        for round_index in range(args.rounds):
            order = list(targets.items())
            if round_index % 2:
                order.reverse()
            for name, (method, path, bodies) in order:
                rate, latencies = await _round(
                    client, method, path, bodies, args.requests, args.concurrency
                )
                rates[name].append(rate)
                p50s[name].append(statistics.median(latencies))
    return {
        name: {"rps": statistics.median(rates[name]), "p50_ms": statistics.median(p50s[name]) * 1e3}
        for name in targets
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            {
                "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
                "PKG_SNAPSHOT_CACHE_DIR": str(Path(tmp) / "cache"),
                "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
                "PKG_LOG_LEVEL": "WARNING",
            }
        ).start()
        try:
            results = asyncio.run(measure(server.url, args))
        finally:
            server.stop()
    print(
        f"HTTP bench: {args.rounds} rounds x {args.requests} requests, "
        f"concurrency {args.concurrency}, one uvicorn process (medians)"
    )
    for name, r in results.items():
        print(f"  {name:<20} {r['rps']:>9,.0f} req/s   p50 {r['p50_ms']:.3f} ms")
    ratio = results["POST /evaluate"]["rps"] / results["GET /health/ready"]["rps"]
    print(f"  /evaluate throughput vs constant endpoint: {ratio:.2f}x")


if __name__ == "__main__":
    main()
