"""Replay throughput: logged decisions replayed per second on a candidate, against compare on
the same inputs, in one run.

    .venv/bin/python -m bench.replay [--records 100000] [--rounds 3] [--database URL] [--json F]

Fills a decision log (SQLite in a temporary file unless `--database` names another database;
migrated to head) with `--records` decisions hotel-ops@1.0.0 answered on the demo fixtures'
facts (varied: wait minutes, urgency), `input.context.guest_name` masked as a server would. Then, in
rounds alternating the order, replays the whole log on hotel-ops@1.1.0 through the replay
service (keyset pages read from the database, decided in a worker thread) and compares the same
inputs, held in memory, on 1.0.0 and 1.1.0 through the compare service (one call, no limit).
Prints the median records/s of each and the median per-round ratio replay / compare. Compare
decides every input twice and reads nothing; replay decides once and reads the database.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from app.adapters.db.decisions import SqlDecisionStore
from app.adapters.db.engine import create_engine
from app.adapters.db.migrations import upgrade_to_head
from app.domain.document import parse_policy_document
from app.domain.facts import DEFAULT_MAX_DEPTH
from app.domain.redaction import Redaction
from app.domain.snapshot import PKGSnapshotData
from app.entrypoints.composition import install_defaults
from app.services.compare import compare_versions
from app.services.decision_log import DecisionLog
from app.services.evaluator import PKGEvaluator
from app.services.replay import Replay, ReplayConfig, ReplayWindow
from bench.server import ROOT

V1, V2 = "hotel-ops@1.0.0", "hotel-ops@1.1.0"
WRITE_BATCH = 5000


class Versions:
    """The two stored versions, as compare and replay ask for them."""

    def __init__(self) -> None:
        self.evaluators = {v.version: PKGEvaluator(v) for v in (_load(V1), _load(V2))}

    async def snapshot(self, version: str) -> PKGSnapshotData:
        return self.evaluators[version].snapshot

    async def load_evaluator(self, version: str) -> PKGEvaluator:
        return self.evaluators[version]

    async def fixtures_of(self, version: str) -> list[dict[str, Any]]:
        return []


def _load(version: str) -> PKGSnapshotData:
    name = "hotel_ops.yaml" if version == V1 else "hotel_ops_v2.yaml"
    document = parse_policy_document(yaml.safe_load((ROOT / "examples" / name).read_text()))
    return document.to_snapshot()


def inputs(count: int) -> list[dict[str, Any]]:
    document = yaml.safe_load((ROOT / "examples" / "hotel_ops.yaml").read_text())
    base = [fixture["input"] for fixture in document["fixtures"]]
    rng = random.Random(7)
    facts = []
    for i in range(count):
        item = copy.deepcopy(base[i % len(base)])
        signals = item.setdefault("signals", {})
        signals["wait_minutes"] = rng.randint(0, 60)
        signals["urgency"] = round(rng.random(), 2)
        item.setdefault("context", {})["guest_name"] = f"guest-{i}"
        facts.append(item)
    return facts


async def fill(log: DecisionLog, store: SqlDecisionStore, facts: list[dict[str, Any]]) -> None:
    evaluator = PKGEvaluator(_load(V1))
    start = time.time() - len(facts) * 0.001
    for offset in range(0, len(facts), WRITE_BATCH):
        records = []
        for i, item in enumerate(facts[offset : offset + WRITE_BATCH], start=offset):
            result = evaluator.evaluate(item) | {
                "decision_id": f"bench-{i}",
                "engine": "native",
                "lane": "active",
                "duration_ms": 0.01,
            }
            records.append(log.build(result, item, "evaluator", start + i * 0.001))
        await store.write(records)


async def replay_rate(replay: Replay, count: int) -> float:
    started = time.perf_counter()
    report = await replay.run(V2, window=ReplayWindow(), limit=count)
    elapsed = time.perf_counter() - started
    assert report["records"] == count and not report["truncated"], report["truncated_reason"]
    return count / elapsed


async def compare_rate(versions: Versions, facts: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    body = await compare_versions(
        versions, V1, V2, items=facts, max_items=len(facts), max_facts_depth=DEFAULT_MAX_DEPTH
    )
    elapsed = time.perf_counter() - started
    assert body["totals"]["inputs"] == len(facts)
    return len(facts) / elapsed


async def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url = args.database or f"sqlite+aiosqlite:///{tmp / 'replay.db'}"
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        store = SqlDecisionStore(engine)
        log = DecisionLog(store, redaction=Redaction.masking_facts(["context.guest_name"]))
        facts = inputs(args.records)
        filled = time.perf_counter()
        await fill(log, store, facts)
        filled = time.perf_counter() - filled
        versions = Versions()
        config = ReplayConfig(max_records=args.records, timeout_s=3600, batch_size=args.page)
        replay = Replay(log.recorded, versions, env="prod", config=config)
        rates: dict[str, list[float]] = {"replay": [], "compare": []}
        for round_index in range(args.rounds):
            order = ("replay", "compare") if round_index % 2 == 0 else ("compare", "replay")
            for kind in order:
                rate = await (
                    replay_rate(replay, args.records)
                    if kind == "replay"
                    else compare_rate(versions, facts)
                )
                rates[kind].append(rate)
    finally:
        await engine.dispose()
    ratios = [r / c for r, c in zip(rates["replay"], rates["compare"], strict=True)]
    return {
        "filled_s": filled,
        "replay": statistics.median(rates["replay"]),
        "compare": statistics.median(rates["compare"]),
        "ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page", type=int, default=1000, help="records per keyset page")
    parser.add_argument("--database", help="a database URL (default: SQLite in a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    install_defaults()  # the native engine, as a server registers it
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(measure(args, Path(tmp)))
    print(
        f"Replay bench: {args.records:,} logged decisions ({V1}) on {V2}, {args.rounds} rounds, "
        f"pages of {args.page} (medians; the log filled in {results['filled_s']:.1f}s)"
    )
    print(f"  replay   {results['replay']:>10,.0f} records/s   (database pages, one decision each)")
    print(f"  compare  {results['compare']:>10,.0f} inputs/s    (in memory, two decisions each)")
    print(f"  replay ÷ compare {results['ratio']:.2f}")
    if args.json:
        figures = {
            "date": time.strftime("%Y-%m-%d"),
            "records": args.records,
            "rounds": args.rounds,
            "page": args.page,
            "database": (args.database or "sqlite").split(":")[0].split("+")[0],
            **results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
