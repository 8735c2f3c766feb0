"""The cost of decision logs: `POST /evaluate` with `PKG_DECISION_LOG=stdout` and `=database`
against `off`, driven by `wrk`, in one run.

    .venv/bin/python -m bench.decision_log [--duration 5] [--rounds 3] [--connections 16]

Starts three `pkgctl serve` processes (embedded SQLite, the demo policy; stdout goes to
/dev/null, the database sink writes to the server's SQLite file), then runs rounds of one `wrk`
run per server, rotating the order, with a Lua script cycling through the demo fixtures' facts.
Reports median requests/s and p99 per server, the median per-round ratio to `off`, and how many
records each sink wrote and dropped (a sink that cannot keep up drops, it never slows
/evaluate down).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.server import ROOT, ServerProcess

SINKS = ("off", "stdout", "database")
SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {%(bodies)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/evaluate", nil, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%d\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(99)))
end
"""


def lua_script(directory: Path) -> Path:
    document = yaml.safe_load((ROOT / "examples" / "hotel_ops.yaml").read_text())
    bodies = [json.dumps(fixture["input"]) for fixture in document["fixtures"]]
    path = directory / "decision_log.lua"
    path.write_text(SCRIPT % {"bodies": ", ".join(json.dumps(b) for b in bodies)})
    return path


def run_wrk(url: str, script: Path, args: argparse.Namespace) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "-s", str(script)]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=args.duration + 60
    ).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT"))
    requests, errors, seconds, p99_us = line.split()[1:]
    if int(errors):
        raise RuntimeError(f"{url}: {errors} errors during the run")
    return {"rps": int(requests) / float(seconds), "p99_ms": int(p99_us) / 1e3}


def log_counts(url: str) -> tuple[float, float]:
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(httpx.get(url + "/metrics").text)
        for sample in family.samples
    }
    return (
        values.get("pkg_decision_log_written_total", 0.0),
        values.get("pkg_decision_log_dropped_total", 0.0),
    )


def start(sink: str, tmp: Path) -> ServerProcess:
    return ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / sink}.db",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp / sink / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "PKG_LOG_LEVEL": "WARNING",
            "PKG_DECISION_LOG": sink,
            "PKG_DECISION_LOG_MASK": "input.context.guest",
        }
    ).start()


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    script = lua_script(tmp)
    servers = {sink: start(sink, tmp) for sink in SINKS}
    try:
        rates: dict[str, list[float]] = {sink: [] for sink in SINKS}
        p99s: dict[str, list[float]] = {sink: [] for sink in SINKS}
        for server in servers.values():  # warm-up
            run_wrk(server.url, script, argparse.Namespace(**{**vars(args), "duration": 1}))
        for round_index in range(args.rounds):
            order = SINKS[round_index % 3 :] + SINKS[: round_index % 3]
            for sink in order:
                result = run_wrk(servers[sink].url, script, args)
                rates[sink].append(result["rps"])
                p99s[sink].append(result["p99_ms"])
        counts = {sink: log_counts(server.url) for sink, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    ratios = {
        sink: statistics.median(r / o for r, o in zip(rates[sink], rates["off"], strict=True))
        for sink in SINKS
    }
    return {
        sink: {
            "rps": statistics.median(rates[sink]),
            "p99_ms": statistics.median(p99s[sink]),
            "ratio": ratios[sink],
            "written": counts[sink][0],
            "dropped": counts[sink][1],
        }
        for sink in SINKS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(args, Path(tmp))
    print(
        f"Decision-log bench: {args.rounds} rounds x {args.duration}s of wrk, "
        f"{args.connections} connections, one uvicorn worker each (medians)"
    )
    for sink, r in results.items():
        print(
            f"  PKG_DECISION_LOG={sink:<9} {r['rps']:>9,.0f} req/s   p99 {r['p99_ms']:.2f} ms"
            f"   ÷ off {r['ratio']:.2f}   written {r['written']:,.0f}  dropped {r['dropped']:,.0f}"
        )


if __name__ == "__main__":
    main()
