"""Single requests and batches at once on one server: does a batch starve single decisions?

    .venv/bin/python -m bench.http_mixed [--duration 5] [--rounds 5] [--workers 1]
                                         [--single-connections 32] [--batch-connections 8]

One `pkgctl serve` on the 100-rule workload (embedded SQLite). Each round runs two `wrk`
processes at the same time against it, the scripts of bench/http.py: `--single-connections`
connections posting single `/evaluate` bodies and `--batch-connections` posting
`/evaluate/batch` bodies of 100 items. Then, one after the other, each alone (the ratio
batch ÷ single decisions/s, as bench/http.py measures it). It prints, as medians over the
rounds (and their range), the p99 of each side under the mix against the targets (single
< 10 ms, batch < 100 ms), the decisions/s of each side, and the alone ratio against 5×; the
machine's steal during each round; and writes everything to bench/out/http_mixed.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.http import BATCH_SIZE, bodies, cpu_ticks, lua_script, machine, policies, wrk
from bench.server import ROOT, ServerProcess

P99_SINGLE_MS = 10.0
P99_BATCH_MS = 100.0
RATIO_TARGET = 5.0


def connections(count: int) -> argparse.Namespace:
    """What `bench.http.wrk` reads of its arguments: one thread, `count` connections."""
    return argparse.Namespace(threads=1, connections=count)


def mixed_round(url: str, scripts: dict[str, Path], args: argparse.Namespace) -> dict[str, Any]:
    """Both wrk processes at once; the steal of the whole round."""
    steal_before, total_before = cpu_ticks()
    with ThreadPoolExecutor(2) as pool:
        single = pool.submit(
            wrk, url, scripts["single"], connections(args.single_connections), args.duration
        )
        batch = pool.submit(
            wrk, url, scripts["batch"], connections(args.batch_connections), args.duration
        )
        result: dict[str, Any] = {"single": single.result(), "batch": batch.result()}
    steal_after, total_after = cpu_ticks()
    result["steal_pct"] = 100 * (steal_after - steal_before) / max(1, total_after - total_before)
    return result


def alone_round(url: str, scripts: dict[str, Path], args: argparse.Namespace) -> dict[str, Any]:
    single = wrk(url, scripts["single"], connections(args.single_connections), args.duration)
    time.sleep(args.settle)
    batch = wrk(url, scripts["batch"], connections(args.batch_connections), args.duration)
    ratio = batch["rps"] * BATCH_SIZE / single["rps"]
    return {"single": single, "batch": batch, "ratio": ratio}


def start(tmp: Path, args: argparse.Namespace, env: dict[str, str]) -> ServerProcess:
    docs = policies(tmp)
    home = tmp / "server"
    home.mkdir()
    server_env = {
        "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{home}/pkg.db",
        "PKG_SNAPSHOT_CACHE_DIR": str(home / "cache"),
        "PKG_SEED_FILE": str(docs["rules100"]),
        "PKG_LOG_LEVEL": "WARNING",
        **env,
    }
    server = ServerProcess(server_env, args=["--workers", str(args.workers)], log_path=home / "log")
    return server.start(timeout=120)


def median_range(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(mixed: list[dict[str, Any]], alone: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "mixed_single_p99_ms": median_range([r["single"]["p99_ms"] for r in mixed]),
        "mixed_batch_p99_ms": median_range([r["batch"]["p99_ms"] for r in mixed]),
        "mixed_single_p50_ms": median_range([r["single"]["p50_ms"] for r in mixed]),
        "mixed_batch_p50_ms": median_range([r["batch"]["p50_ms"] for r in mixed]),
        "mixed_single_decisions_per_s": median_range([r["single"]["rps"] for r in mixed]),
        "mixed_batch_decisions_per_s": median_range(
            [r["batch"]["rps"] * BATCH_SIZE for r in mixed]
        ),
        "mixed_errors": sum(
            r[side]["non2xx"] + r[side]["socket_errors"]
            for r in mixed
            for side in ("single", "batch")
        ),
        "alone_single_decisions_per_s": median_range([r["single"]["rps"] for r in alone]),
        "alone_batch_decisions_per_s": median_range(
            [r["batch"]["rps"] * BATCH_SIZE for r in alone]
        ),
        "alone_batch_p99_ms": median_range([r["batch"]["p99_ms"] for r in alone]),
        "alone_single_p99_ms": median_range([r["single"]["p99_ms"] for r in alone]),
        "batch_over_single": median_range([r["ratio"] for r in alone]),
        "steal_max_pct": max(r["steal_pct"] for r in mixed),
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(table: dict[str, Any], args: argparse.Namespace) -> None:
    def line(label: str, key: str, unit: str, fmt: str = ",.2f") -> str:
        row = table[key]
        return (
            f"  {label:<44} {row['median']:>10{fmt}} {unit}"
            f"   ({row['min']:{fmt}}–{row['max']:{fmt}})"
        )

    print(
        f"{args.rounds} rounds of {args.duration:g} s, {args.workers} worker(s), medians (range); "
        f"machine: {machine()}"
    )
    print(f"mixed: c{args.single_connections} single + c{args.batch_connections} batches of 100")
    single_p99, batch_p99 = table["mixed_single_p99_ms"], table["mixed_batch_p99_ms"]
    print(
        line("single /evaluate p99", "mixed_single_p99_ms", "ms")
        + f"   target < {P99_SINGLE_MS:g} ms: {verdict(single_p99['median'] < P99_SINGLE_MS)}"
    )
    print(
        line("batch p99", "mixed_batch_p99_ms", "ms")
        + f"   target < {P99_BATCH_MS:g} ms: {verdict(batch_p99['median'] < P99_BATCH_MS)}"
    )
    print(line("single p50", "mixed_single_p50_ms", "ms"))
    print(line("batch p50", "mixed_batch_p50_ms", "ms"))
    print(line("single decisions/s", "mixed_single_decisions_per_s", "/s", ",.0f"))
    print(line("batch decisions/s", "mixed_batch_decisions_per_s", "/s", ",.0f"))
    print(f"  errors (non-2xx + socket): {table['mixed_errors']}")
    print("alone (one after the other, same connections):")
    print(line("single decisions/s", "alone_single_decisions_per_s", "/s", ",.0f"))
    print(line("batch decisions/s", "alone_batch_decisions_per_s", "/s", ",.0f"))
    print(line("single p99", "alone_single_p99_ms", "ms"))
    print(line("batch p99", "alone_batch_p99_ms", "ms"))
    ratio = table["batch_over_single"]
    print(
        line("batch ÷ single decisions/s (per round)", "batch_over_single", "×")
        + f"   target ≥ {RATIO_TARGET:g}×: {verdict(ratio['median'] >= RATIO_TARGET)}"
    )
    print(
        f"steal ≤ {table['steal_max_pct']:.0f} % in a mixed round. The machine is shared: read "
        "the medians and same-round ratios."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--single-connections", type=int, default=32)
    parser.add_argument("--batch-connections", type=int, default=8)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "http_mixed.json")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt install wrk")
    env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        payloads = bodies()
        scripts = {
            "single": lua_script("/evaluate", payloads["rules100"], tmp / "single.lua"),
            "batch": lua_script("/evaluate/batch", payloads["batch100"], tmp / "batch.lua"),
        }
        server = start(tmp, args, env)
        try:
            mixed_round(server.url, scripts, argparse.Namespace(**{**vars(args), "duration": 1}))
            mixed, alone = [], []
            for _ in range(args.rounds):
                mixed.append(mixed_round(server.url, scripts, args))
                time.sleep(args.settle)
                alone.append(alone_round(server.url, scripts, args))
                time.sleep(args.settle)
        finally:
            server.stop()
    table = summarize(mixed, alone)
    report(table, args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "args": vars(args),
    }
    out |= {"machine": machine(), "summary": table, "mixed": mixed, "alone": alone}
    args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
