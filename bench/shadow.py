"""What a 100 % shadow lane costs `/evaluate` throughput, measured with wrk.

    .venv/bin/python -m bench.shadow [--duration 5] [--connections 8] [--rounds 5]

Starts `pkgctl serve` (embedded SQLite, the demo policy), opens a shadow lane at 100 % on
hotel-ops@1.1.0 for target `router`, and alternates wrk rounds of `POST /evaluate?target=router`
with the lane active and inactive (a PATCH between rounds), so both see the same server, cache
and noise. Prints median requests/s and p50 latency of each, and the ratio shadow / none
(target: >= 0.8x). Also reports how many shadow evaluations were counted and dropped.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.server import ROOT, ServerProcess

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _wrk(url: str, script: Path, args: argparse.Namespace) -> tuple[float, float]:
    """(requests/s, p50 ms) of one wrk round."""
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
        "--latency", "-s", str(script), url,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        raise RuntimeError(f"wrk saw failed requests:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return rps, float(value) * UNITS[unit]


def _lane(client: httpx.Client) -> int:
    document = yaml.safe_load((ROOT / "examples" / "hotel_ops_v2.yaml").read_text())
    client.post("/snapshots", json=document).raise_for_status()
    lane = client.post(
        "/deployments",
        json={"version": document["version"], "target": "router", "percent": 100, "mode": "shadow"},
    )
    lane.raise_for_status()
    lane_id: int = lane.json()["id"]
    return lane_id


def _set_lane(client: httpx.Client, lane_id: int, *, active: bool) -> None:
    client.patch(f"/deployments/{lane_id}", json={"is_active": active}).raise_for_status()


def measure(url: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    facts = json.loads((ROOT / "examples" / "facts" / "vip_allergy.json").read_text())
    script = tmp / "evaluate.lua"
    script.write_text(LUA.format(body=json.dumps(json.dumps(facts))))
    target = f"{url}/evaluate?target=router"
    rates: dict[str, list[float]] = {"none": [], "shadow 100 %": []}
    p50s: dict[str, list[float]] = {"none": [], "shadow 100 %": []}
    with httpx.Client(base_url=url, timeout=30) as client:
        lane_id = _lane(client)
        _set_lane(client, lane_id, active=False)
        _wrk(target, script, argparse.Namespace(**{**vars(args), "duration": 2}))  # warm-up
        for round_index in range(args.rounds):
            order = [False, True] if round_index % 2 == 0 else [True, False]
            for active in order:
                _set_lane(client, lane_id, active=active)
                name = "shadow 100 %" if active else "none"
                rps, p50 = _wrk(target, script, args)
                rates[name].append(rps)
                p50s[name].append(p50)
                time.sleep(0.5)  # let the shadow queue drain before the next round
        report = client.get(f"/deployments/{lane_id}/shadow").json()
    return {
        "rps": {name: statistics.median(values) for name, values in rates.items()},
        "p50": {name: statistics.median(values) for name, values in p50s.items()},
        "shadow": report["totals"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk round")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            {
                "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
                "PKG_SNAPSHOT_CACHE_DIR": str(Path(tmp) / "cache"),
                "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
                "PKG_LOG_LEVEL": "WARNING",
                "PKG_SHADOW_FLUSH_INTERVAL_S": "1",
            }
        ).start()
        try:
            results = measure(server.url, args, Path(tmp))
        finally:
            server.stop()
    print(
        f"Shadow-lane bench (wrk): {args.rounds} rounds x {args.duration}s per mode, "
        f"{args.connections} connections, one uvicorn process (medians)"
    )
    for name, rps in results["rps"].items():
        print(f"  {name:<14} {rps:>9,.0f} req/s   p50 {results['p50'][name]:.3f} ms")
    ratio = results["rps"]["shadow 100 %"] / results["rps"]["none"]
    print(f"  /evaluate throughput with a 100 % shadow lane vs none: {ratio:.2f}x (target >= 0.8x)")
    shadow = results["shadow"]
    print(
        f"  shadow evaluations counted: {shadow['evaluated']:,} "
        f"(different {shadow['different']:,}, errors {shadow['errors']:,}), "
        f"dropped on a full queue: {shadow['dropped']:,}"
    )


if __name__ == "__main__":
    main()
