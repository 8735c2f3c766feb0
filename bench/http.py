"""`/evaluate` over real HTTP, driven by `wrk`, against FastAPI's constant answer, in one run.

    .venv/bin/python -m bench.http [--duration 5] [--rounds 5] [--connections 32] [--workers 1,2]

For each worker count, it starts the servers of `SERVERS`: `pkgctl serve --workers N` on
embedded SQLite; the baseline `../shared/bench/hello_fastapi.py` on the same uvicorn settings,
protocol included (`bench/baseline_server.py`), and once more on stock uvicorn; and
`bench/bare_asgi.py`, uvicorn with no framework, the ceiling of the machine at that moment.
Then it runs the `SCENARIOS` in rounds, alternating their order, each one `wrk` run (a
separate process, loopback, bounded by `--duration`, `--settle` seconds apart) whose Lua
script cycles through varied request bodies and prints requests, errors and latency
percentiles in its `done()` hook. It reports medians of requests/s (and decisions/s) with
their range over the rounds, p50 and p99, the `RATIOS` (median of the per-round ratios, and
their range), the p99 target and 2 workers ÷ 1; last, a run with one promotion per second on
the 100-rule server, counting non-2xx answers and socket errors (both must be 0).

Adding a round (e.g. with the decision log or a shadow lane on): append a `ServerSpec` with
its PKG_* environment to `SERVERS`, a `Scenario` naming it to `SCENARIOS`, and, to compare it,
a `Ratio` to `RATIOS` — from another module before calling `main()`, or here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.server import ROOT, ServerProcess

SHARED = ROOT / ".." / "shared" / "bench"
BATCH_SIZE = 100


@dataclass(frozen=True)
class ServerSpec:
    """One server per worker count: PKG seeded with `policy`, or (policy None) the ASGI app
    `app` ("module:attribute" under `app_dir`) on PKG's uvicorn settings."""

    name: str
    policy: str | None  # "demo" | "rules100" | None
    env: Mapping[str, str] = field(default_factory=dict)
    app: str = "hello_fastapi:app"
    app_dir: Path = SHARED
    stock: bool = False  # uvicorn's own httptools protocol instead of PKG's (a baseline only)


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str
    bodies: str  # "demo" | "rules100" | "batch100"
    path: str = "/evaluate"
    decisions_per_request: int = 1


@dataclass(frozen=True)
class Ratio:
    label: str
    numerator: str  # scenario names; decisions/s are compared
    denominator: str
    target: float | None = None


SERVERS: list[ServerSpec] = [
    ServerSpec("pkg-demo", "demo"),
    ServerSpec("pkg-100", "rules100"),
    ServerSpec("pkg-100-no-ui", "rules100", env={"PKG_UI": "false"}),  # the console's cost
    ServerSpec("fastapi-constant", None),
    ServerSpec("fastapi-stock", None, stock=True),
    ServerSpec("bare-asgi", None, app="bench.bare_asgi:app", app_dir=ROOT),
]
EVAL_DEMO = "POST /evaluate, demo policy"
EVAL_100 = "POST /evaluate, 100 rules"
EVAL_100_NO_UI = "POST /evaluate, 100 rules, PKG_UI=false"
BATCH_100 = "POST /evaluate/batch, 100 items"
CONSTANT = "FastAPI constant JSON"
STOCK = "FastAPI constant, stock uvicorn"
BARE = "bare ASGI constant (the ceiling)"
SCENARIOS: list[Scenario] = [  # in an order that puts each ratio's two sides side by side
    Scenario(BATCH_100, "pkg-100", "batch100", "/evaluate/batch", BATCH_SIZE),
    Scenario(EVAL_100, "pkg-100", "rules100"),
    Scenario(EVAL_100_NO_UI, "pkg-100-no-ui", "rules100"),
    Scenario(CONSTANT, "fastapi-constant", "demo"),
    Scenario(EVAL_DEMO, "pkg-demo", "demo"),
    Scenario(STOCK, "fastapi-stock", "demo"),
    Scenario(BARE, "bare-asgi", "demo"),
]
RATIOS: list[Ratio] = [
    Ratio("/evaluate demo ÷ FastAPI constant", EVAL_DEMO, CONSTANT),
    Ratio("/evaluate 100 rules ÷ FastAPI constant", EVAL_100, CONSTANT, 1.2),
    Ratio("FastAPI constant ÷ the same on stock uvicorn", CONSTANT, STOCK),
    Ratio("batch decisions/s ÷ /evaluate decisions/s", BATCH_100, EVAL_100, 5.0),
    Ratio("/evaluate with the console ÷ PKG_UI=false", EVAL_100, EVAL_100_NO_UI),
]
WORKER_TARGETS = {EVAL_100: 1.5}
P99_TARGETS_MS = {(1, EVAL_100): 5.0}  # (workers, scenario): p99 under this many ms

DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"non2xx":%d,"socket":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# ------------------------------------------------------------------------------ inputs
def workload() -> Any:
    sys.path.insert(0, str(SHARED.resolve()))
    import workload as shared_workload  # type: ignore[import-not-found]  # ../shared/bench

    return shared_workload


def policies(tmp: Path) -> dict[str, Path]:
    document = workload().policy_document(100)
    document["env"] = "prod"
    path = tmp / "policy_100.json"
    path.write_text(json.dumps(document))
    return {"demo": ROOT / "examples" / "hotel_ops.yaml", "rules100": path}


def bodies() -> dict[str, list[bytes]]:
    demo = yaml.safe_load((ROOT / "examples" / "hotel_ops.yaml").read_text())
    facts = workload().facts(2000)
    batches = [facts[i : i + BATCH_SIZE] for i in range(0, len(facts), BATCH_SIZE)]
    return {
        "demo": [json.dumps(f["input"]).encode() for f in demo["fixtures"]],
        "rules100": [json.dumps(f).encode() for f in facts],
        "batch100": [json.dumps({"items": batch}).encode() for batch in batches],
    }


def lua_script(path: str, payloads: list[bytes], out: Path) -> Path:
    """A wrk script cycling through `payloads` (JSON never holds `]==]`)."""
    items = ",\n".join(f"[==[{p.decode()}]==]" for p in payloads)
    out.write_text(
        f"local bodies = {{\n{items}\n}}\nlocal i = 0\n"
        'local headers = {["Content-Type"] = "application/json"}\n'
        "request = function()\n  i = i % #bodies + 1\n"
        f'  return wrk.format("POST", "{path}", headers, bodies[i])\nend\n{DONE_HOOK}'
    )
    return out


# ------------------------------------------------------------------------------ servers
def start_servers(tmp: Path, workers: int, docs: dict[str, Path]) -> dict[str, ServerProcess]:
    servers: dict[str, ServerProcess] = {}
    for spec in SERVERS:
        home = tmp / f"{spec.name}-w{workers}"
        home.mkdir()
        if spec.policy is None:
            command = baseline_command(spec, workers)
            server = ServerProcess({}, command=command, ready_path="/openapi.json")
        else:
            env = {
                "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{home}/pkg.db",
                "PKG_SNAPSHOT_CACHE_DIR": str(home / "cache"),
                "PKG_SEED_FILE": str(docs[spec.policy]),
                "PKG_LOG_LEVEL": "WARNING",
                **spec.env,
            }
            server = ServerProcess(env, args=["--workers", str(workers)], log_path=home / "log")
        servers[spec.name] = server.start(timeout=120)
    return servers


def baseline_command(spec: ServerSpec, workers: int) -> list[str]:
    """A baseline on PKG's uvicorn settings (app/entrypoints/server/serve.py), or stock uvicorn."""
    return [
        *(sys.executable, "-m", "bench.baseline_server", spec.app, "--app-dir", str(spec.app_dir)),
        *("--port", "{port}", "--workers", str(workers)),
        *(("--stock",) if spec.stock else ()),
    ]


# ------------------------------------------------------------------------------ wrk
def cpu_ticks() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs since boot (/proc/stat; zeros where unreadable)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def wrk(url: str, script: Path, args: argparse.Namespace, duration: float) -> dict[str, float]:
    command = [
        *("wrk", "-t", str(args.threads), "-c", str(args.connections)),
        *("-d", f"{max(1, round(duration))}s", "--timeout", "5s", "-s", str(script), url),
    ]
    steal_before, total_before = cpu_ticks()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    steal_after, total_after = cpu_ticks()
    line = next(line for line in done.splitlines() if line.startswith("WRK "))
    raw = json.loads(line[4:])
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / seconds,
        "requests": raw["requests"],
        "p50_ms": raw["p50_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "non2xx": raw["non2xx"],
        "socket_errors": raw["socket"],
        # CPU time the hypervisor gave to other guests: a round with much of it is noise
        "steal_pct": 100 * (steal_after - steal_before) / max(1, total_after - total_before),
    }


def run_phase(
    workers: int, tmp: Path, scripts: dict[str, Path], args: argparse.Namespace
) -> dict[str, Any]:
    servers = start_servers(tmp, workers, policies(tmp / f"docs-w{workers}"))
    try:
        runs: dict[str, list[dict[str, float]]] = {s.name: [] for s in SCENARIOS}
        for scenario in SCENARIOS:  # warm-up: caches, memo tables, connections
            wrk(servers[scenario.server].url, scripts[scenario.name], args, 1)
        for index in range(args.rounds):
            order = SCENARIOS if index % 2 == 0 else SCENARIOS[::-1]
            for scenario in order:
                url = servers[scenario.server].url
                runs[scenario.name].append(wrk(url, scripts[scenario.name], args, args.duration))
                time.sleep(args.settle)  # what the last run left queued is done before the next
        promotion = promotion_round(servers["pkg-100"], scripts[EVAL_100], args)
    finally:
        for server in servers.values():
            server.stop()
    return {"workers": workers, "runs": runs, "promotion": promotion}


def promotion_round(
    server: ServerProcess, script: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """A wrk run while a thread promotes, once a second, one of two stored versions."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        active = client.get("/snapshots/active").json()["version"]
        document = workload().policy_document(100)
        document.update(env="prod", version=active + "-b")
        client.post("/snapshots", json=document).raise_for_status()
    versions = [document["version"], active]
    outcomes: list[int] = []
    stop = threading.Event()

    def promote() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as admin:
            while not stop.wait(1.0):
                version = versions[len(outcomes) % 2]
                body = {"version": version, "force": True, "reason": "bench"}
                outcomes.append(admin.post("/promotions", json=body).status_code)

    promoter = threading.Thread(target=promote, daemon=True)
    promoter.start()
    try:
        result = wrk(server.url, script, args, args.promotion_seconds)
    finally:
        stop.set()
        promoter.join(timeout=60)
    result["promotions"] = sum(1 for status in outcomes if status == 201)
    result["promotions_failed"] = sum(1 for status in outcomes if status != 201)
    return result


# ------------------------------------------------------------------------------ report
def summary(phase: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for scenario in SCENARIOS:
        runs = phase["runs"][scenario.name]
        rps = statistics.median(r["rps"] for r in runs)
        out[scenario.name] = {
            "rps": rps,
            "rps_min": min(r["rps"] for r in runs),
            "rps_max": max(r["rps"] for r in runs),
            "decisions_per_s": rps * scenario.decisions_per_request,
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "non2xx": sum(r["non2xx"] for r in runs),
            "socket_errors": sum(r["socket_errors"] for r in runs),
            "steal_max_pct": max(r["steal_pct"] for r in runs),
        }
    return out


def per_round(phase: dict[str, Any], ratio: Ratio) -> list[float]:
    """The ratio in each round (each round runs both sides back to back)."""
    per = {s.name: s.decisions_per_request for s in SCENARIOS}
    top, bottom = phase["runs"][ratio.numerator], phase["runs"][ratio.denominator]
    return [
        (a["rps"] * per[ratio.numerator]) / (b["rps"] * per[ratio.denominator])
        for a, b in zip(top, bottom, strict=True)
    ]


def ratio_of(phase: dict[str, Any], ratio: Ratio) -> float:
    """The median of the per-round ratios."""
    return float(statistics.median(per_round(phase, ratio)))


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"   (target ≥ {target}: {'met' if value >= target else 'NOT met'})"


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, {platform.system()}; load average {load}"


def report(phases: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} rounds, ")
    print(f"medians; machine: {machine()}")
    out: dict[str, Any] = {"phases": []}
    summaries = {}
    for phase in phases:
        workers, table = phase["workers"], summary(phase)
        summaries[workers] = table
        print(f"\n{workers} worker{'s' if workers > 1 else ''}:")
        for name, row in table.items():
            errors = f"   errors: {row['non2xx']:.0f} non-2xx, {row['socket_errors']:.0f} socket"
            errors += f"   steal ≤ {row['steal_max_pct']:.0f} %"
            spread = f"({row['rps_min']:,.0f}–{row['rps_max']:,.0f})"
            print(
                f"  {name:<34} {row['rps']:>8,.0f} req/s {spread:>15} "
                f"{row['decisions_per_s']:>9,.0f} dec/s"
                f"   p50 {row['p50_ms']:6.2f} ms   p99 {row['p99_ms']:6.2f} ms{errors}"
            )
        for (on, name), limit in P99_TARGETS_MS.items():
            if on == workers:
                p99 = table[name]["p99_ms"]
                met = "met" if p99 < limit else "NOT met"
                print(f"  {name} p99 {p99:.2f} ms   (target < {limit} ms: {met})")
        ratios = {r.label: ratio_of(phase, r) for r in RATIOS}
        for r in RATIOS:
            rounds = per_round(phase, r)
            spread = f"(rounds {min(rounds):.2f}–{max(rounds):.2f})"
            value = ratios[r.label]
            print(f"  {r.label:<48} {value:5.2f}× {spread}{verdict(value, r.target)}")
        promo = phase["promotion"]
        print(
            f"  promotion once a second during {args.promotion_seconds}s of {EVAL_100}: "
            f"{promo['promotions']} promotions ({promo['promotions_failed']} failed), "
            f"{promo['requests']:,.0f} requests, {promo['non2xx']:.0f} non-2xx, "
            f"{promo['socket_errors']:.0f} socket errors"
        )
        out["phases"].append({**phase, "summary": table, "ratios": ratios})
    if 1 in summaries and len(summaries) > 1:
        for workers in sorted(summaries)[1:]:
            print(f"\n{workers} workers ÷ 1 worker:")
            for name in summaries[1]:
                value = summaries[workers][name]["rps"] / summaries[1][name]["rps"]
                print(f"  {name:<34} {value:5.2f}×{verdict(value, WORKER_TARGETS.get(name))}")
    print(
        "\nThe machine is shared: numbers are noisy; ratios from the same run are what count."
        "\nsteal: the most CPU time the hypervisor gave to other guests during one round of a"
        " row; rounds with more than a few per cent of it measure the neighbours."
        "\nThe bare ASGI row is uvicorn alone: no Python app on these settings beats its"
        " requests/s or its p99 in the same rounds."
    )
    return out


def main(argv: list[str] | None = None, *, before: Callable[[], None] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--promotion-seconds", type=float, default=10.0)
    parser.add_argument(
        "--settle", type=float, default=1.0, help="seconds of quiet between two wrk runs"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "http.json")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `make bench-http` (it installs it) or apt install wrk")
    if before is not None:
        before()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        payloads = bodies()
        scripts = {
            s.name: lua_script(s.path, payloads[s.bodies], tmp / f"scenario{i}.lua")
            for i, s in enumerate(SCENARIOS)
        }
        phases = []
        for workers in (int(w) for w in args.workers.split(",")):
            (tmp / f"docs-w{workers}").mkdir()
            phases.append(run_phase(workers, tmp, scripts, args))
    result = report(phases, args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
