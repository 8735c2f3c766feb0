"""The compiled decision core against ZEN, run after run: `make bench` N times, then pure Python.

    .venv/bin/python -m bench.core [--runs 5] [--pure-runs 1] [--sizes 10,100,1000]

Each run is one `../shared/bench/run_peers.py` process (as `make bench` starts it; the OPA peer
off, it is measured by `make bench`), whose own median of 5 rounds gives one "× ZEN" figure per
size. The runs of the compiled core come first, then `--pure-runs` with `PKG_PURE_PYTHON=1`.
Prints, per size and mode, every run's figure, their median and their range (ZEN's own
decisions/s range across runs too, the swing the issue asks about), and writes every run's JSON
to bench/out/core/ and the summary to bench/out/core.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.server import ROOT

SHARED = ROOT.parent / "shared" / "bench" / "run_peers.py"
ENGINE = "bench.engine:factory"  # as /evaluate decides
OUT = ROOT / "bench" / "out"


def one_run(path: Path, *, pure: bool, sizes: str) -> dict[str, Any]:
    env = {**os.environ, "PKG_BENCH_OPA_BINDINGS": "off"}
    env.pop("PKG_PURE_PYTHON", None)
    if pure:
        env["PKG_PURE_PYTHON"] = "1"
    command = [
        sys.executable,
        str(SHARED),
        "--engine",
        ENGINE,
        "--sizes",
        sizes,
        "--json",
        str(path),
    ]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def figures(report: dict[str, Any]) -> dict[int, dict[str, float]]:
    out = {}
    for size in report["sizes"]:
        engines = size["engines"]
        out[size["rules"]] = {
            "vs_zen": engines[ENGINE]["vs_zen"],
            "us": engines[ENGINE]["us_per_decision"],
            "zen_per_s": engines["zen"]["decisions_per_s"],
        }
    return out


def summary(runs: list[dict[int, dict[str, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rules in runs[0]:
        ratios = [run[rules]["vs_zen"] for run in runs]
        zen = [run[rules]["zen_per_s"] for run in runs]
        out[str(rules)] = {
            "vs_zen_per_run": ratios,
            "vs_zen_median": statistics.median(ratios),
            "vs_zen_min": min(ratios),
            "us_median": statistics.median(run[rules]["us"] for run in runs),
            "zen_per_s_range": [min(zen), max(zen)],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pure-runs", type=int, default=1)
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    folder = OUT / "core"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    results: dict[str, Any] = {"date": stamp, "engine": ENGINE}
    for mode, count in (("compiled", args.runs), ("pure", args.pure_runs)):
        runs = []
        for index in range(1, count + 1):
            path = folder / f"peers_{mode}_{stamp}_run{index}.json"
            runs.append(figures(one_run(path, pure=mode == "pure", sizes=args.sizes)))
            line = "  ".join(f"{n} rules {f['vs_zen']:.1f}×" for n, f in runs[-1].items())
            print(f"{mode} run {index}: {line}", flush=True)
        if runs:
            results[mode] = summary(runs)
    (OUT / "core.json").write_text(json.dumps(results, indent=2) + "\n")
    for mode in ("compiled", "pure"):
        for rules, s in results.get(mode, {}).items():
            per_run = " ".join(f"{r:.1f}" for r in s["vs_zen_per_run"])
            low, high = s["zen_per_s_range"]
            print(
                f"{mode:9} {rules:>5} rules: × ZEN median {s['vs_zen_median']:.1f} "
                f"(min {s['vs_zen_min']:.1f}; runs {per_run}), {s['us_median']:.1f} µs; "
                f"ZEN {low:,.0f}–{high:,.0f} decisions/s across runs"
            )


if __name__ == "__main__":
    main()
