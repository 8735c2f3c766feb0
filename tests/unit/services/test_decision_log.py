"""The decision log's queue: offer never waits, a full queue drops and counts, stop flushes,
sampling thins, and the record says what was decided (masked)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from app.domain.decision import DecisionRecord, outcome_of
from app.domain.redaction import MASK, Redaction
from app.services.decision_log import DecisionLog
from tests.polling import eventually


class GatedSink:
    """A sink that holds every write until the test opens the gate (a slow database)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.records: list[DecisionRecord] = []

    async def write(self, records: Sequence[DecisionRecord]) -> None:
        await self.gate.wait()
        self.records.extend(records)


class CountingMetrics:
    def __init__(self) -> None:
        self.dropped = 0
        self.written = 0
        self.decisions: list[tuple[str, str, str, int]] = []

    def observe_decision(
        self, *, engine: str, lane: str, outcome: str, rules_fired: int, seconds: float
    ) -> None:
        self.decisions.append((engine, lane, outcome, rules_fired))

    def decision_log_dropped(self) -> None:
        self.dropped += 1

    def decision_log_written(self, count: int) -> None:
        self.written += count

    def decision_log_write_failed(self, count: int) -> None:
        raise AssertionError("no write fails here")

    def set_decision_log_queue(self, size: int) -> None:
        pass


def decision(n: int, *, rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    fired = rules if rules is not None else [{"rule_id": "r1", "rule_name": "vip_rule"}]
    return {
        "decision_id": f"d{n}",
        "snapshot": "rules@1",
        "engine": "native",
        "lane": "active",
        "deployment_id": None,
        "duration_ms": 0.01,
        "rules": fired,
        "subtasks": [{"name": "escalate"}] if fired else [],
    }


async def test_a_full_queue_drops_and_counts_and_stop_flushes_the_rest() -> None:
    sink, metrics = GatedSink(), CountingMetrics()
    log = DecisionLog(sink, metrics=metrics, queue_size=5, batch_size=2)
    await log.start()
    await asyncio.sleep(0)  # the drain task waits on the queue

    for n in range(20):
        log.offer(decision(n), facts={"n": n})  # returns at once, whatever the sink does
    assert (log.queued, metrics.dropped) == (5, 15)
    # the drain task takes its first batch (2) and is stuck writing it: room for one more
    await eventually(lambda: log.queued == 3)
    log.offer(decision(20), facts={"n": 20})

    assert metrics.dropped == 15
    sink.gate.set()
    await log.stop()
    assert len(sink.records) == 6
    assert metrics.written == len(sink.records)
    assert len(metrics.decisions) == 21  # every decision is counted, logged or not


async def test_the_record_holds_the_masked_input_and_the_fired_names() -> None:
    sink = GatedSink()
    sink.gate.set()
    log = DecisionLog(
        sink,
        env="staging",
        instance="replica-1",
        redaction=Redaction.from_paths(mask=["input.context.guest_name"]),
    )
    await log.start()
    facts = {"tags": ["vip"], "context": {"guest_name": "Ada"}}

    log.offer(decision(1), facts=facts, role="evaluator")
    await log.stop()

    (record,) = sink.records
    assert record.input == {"tags": ["vip"], "context": {"guest_name": MASK}}
    assert facts["context"] == {"guest_name": "Ada"}
    assert (record.rules, record.subtasks) == (["vip_rule"], ["escalate"])
    assert (record.env, record.version, record.role, record.instance) == (
        "staging",
        "rules@1",
        "evaluator",
        "replica-1",
    )
    assert record.outcome == "matched" and record.decision_id == "d1"


async def test_a_sample_rate_of_zero_logs_nothing_but_still_counts() -> None:
    sink, metrics = GatedSink(), CountingMetrics()
    sink.gate.set()
    log = DecisionLog(sink, metrics=metrics, sample_rate=0.0)
    await log.start()

    for n in range(10):
        log.offer(decision(n), facts={})
    await log.stop()

    assert sink.records == [] and len(metrics.decisions) == 10


async def test_without_a_sink_offer_only_counts() -> None:
    metrics = CountingMetrics()
    log = DecisionLog(metrics=metrics)
    await log.start()

    log.offer(decision(1, rules=[]), facts={})

    assert metrics.decisions == [("native", "active", "no_match", 0)]
    assert log.queued == 0
    await log.stop()


def test_outcomes_tell_a_match_from_no_match_from_an_error() -> None:
    assert outcome_of(decision(1)) == "matched"
    assert outcome_of(decision(1, rules=[])) == "no_match"
    assert outcome_of({"rules": [{"rule_id": "error", "error": "boom"}], "subtasks": []}) == "error"
    assert outcome_of({"rules": [], "subtasks": [], "result": True}) == "matched"
    assert outcome_of({"rules": [], "subtasks": [], "result": False}) == "no_match"
