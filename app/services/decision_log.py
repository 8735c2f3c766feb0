"""The decision log: one non-blocking `offer()` per decision, a bounded queue, a background
drain into a sink (stdout or the database), and reads back from the database.

`offer()` is what `/evaluate` calls once per decision. It counts the decision
(`pkg_decisions_total`, `pkg_rules_fired_total`), records a tracing span when tracing is on and,
when the log is on and the decision is sampled, queues a reference to the result and the facts.
Everything costly (masking, building the record, serializing, writing) happens in the drain
task, never in the request. A full queue drops the record and counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeGuard, cast

from app.domain.decision import DecisionRecord, outcome_of
from app.domain.errors import NotFoundError
from app.domain.redaction import Redaction
from app.services import tracing
from app.services.logs import get_logger
from app.services.metrics import DecisionMetrics, NullMetrics
from app.services.ports import DecisionSink, DecisionStore, RecordedDecisions
from app.services.request_context import bind_decision_id, current_caller

__all__ = ["DecisionLog", "DecisionLogNotStoredError", "bind_decision_id"]

log = get_logger("pkg.decision_log")

FLUSH_TIMEOUT_S: Final = 10.0
RETENTION_EVERY_S: Final = 3600.0
MAX_QUERY_LIMIT: Final = 1000

_Pending = tuple[Mapping[str, Any], Any, str | None, float, str | None]


class DecisionLogNotStoredError(NotFoundError):
    """Decision logs are not kept in the database on this server (`PKG_DECISION_LOG`): 404."""


class DecisionLog:
    def __init__(
        self,
        sink: DecisionSink | None = None,
        *,
        env: str = "prod",
        instance: str | None = None,
        metrics: DecisionMetrics | None = None,
        redaction: Redaction | None = None,
        sample_rate: float = 1.0,
        queue_size: int = 10_000,
        batch_size: int = 500,
        retention: timedelta | None = None,
    ) -> None:
        self.sink = sink
        self.env = env
        self.instance = instance
        self.metrics: DecisionMetrics = metrics or NullMetrics()
        self.redaction = redaction or Redaction()
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.retention = retention
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue_size)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def enabled(self) -> bool:
        return self.sink is not None

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    # ------------------------------------------------------------------ the hot path
    def offer(self, result: Mapping[str, Any], *, facts: Any, role: str | None = None) -> None:
        """Count, trace and (if logging, and sampled) queue one decision. Never waits."""
        engine, lane = result.get("engine") or "unknown", result.get("lane") or "active"
        outcome = outcome_of(result)
        rules = result.get("rules") or ()
        self.metrics.observe_decision(
            engine=engine,
            lane=lane,
            outcome=outcome,
            rules_fired=0 if outcome == "error" else len(rules),
            seconds=(result.get("duration_ms") or 0.0) / 1e3,
        )
        if tracing.enabled():
            _trace(result, engine=engine, lane=lane, outcome=outcome)
        if self.sink is None or (self.sample_rate < 1.0 and random.random() >= self.sample_rate):
            return
        try:
            self._queue.put_nowait((result, facts, role, time.time(), current_caller()))
        except asyncio.QueueFull:
            self.metrics.decision_log_dropped()
            self.metrics.set_decision_log_queue(self._queue.maxsize)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.sink is None:
            return
        self._tasks = [asyncio.create_task(self._drain(), name="pkg-decision-log")]
        if self.retention is not None and _is_store(self.sink):
            self._tasks.append(asyncio.create_task(self._prune_loop(), name="pkg-decision-prune"))

    async def stop(self) -> None:
        """Flush what is queued (up to FLUSH_TIMEOUT_S), then stop the background tasks."""
        if self._tasks and not self._tasks[0].done():
            try:
                async with asyncio.timeout(FLUSH_TIMEOUT_S):
                    await self._queue.join()
            except TimeoutError:
                log.error("decision_log_flush_timeout", pending=self._queue.qsize())
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # ------------------------------------------------------------------ reads
    async def get(self, decision_id: str) -> DecisionRecord:
        record = await self._store().get(decision_id)
        if record is None:
            raise NotFoundError(f"decision {decision_id} is not in the decision log")
        return record

    async def query(
        self, *, version: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[DecisionRecord]:
        limit = max(1, min(limit, MAX_QUERY_LIMIT))
        return await self._store().query(version=version, since=since, limit=limit)

    def recorded(self) -> RecordedDecisions:
        """The stored log, for reading page by page (replay); 404 when it is not stored."""
        store = self._store()
        if not callable(getattr(store, "scan", None)):
            raise DecisionLogNotStoredError(f"{type(store).__name__} cannot be read page by page")
        return cast(RecordedDecisions, store)

    def _store(self) -> DecisionStore:
        if self.sink is None or not _is_store(self.sink):
            raise DecisionLogNotStoredError(
                "decision logs are not stored on this server: set PKG_DECISION_LOG=database"
            )
        return self.sink

    # ------------------------------------------------------------------ background
    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self.metrics.set_decision_log_queue(self._queue.qsize())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: Sequence[_Pending]) -> None:
        try:
            records = [self.build(*pending) for pending in batch]
            assert self.sink is not None
            await self.sink.write(records)
        except Exception as exc:  # a background loop: count, log and go on
            self.metrics.decision_log_write_failed(len(batch))
            log.warning(
                "decision_log_write_failed",
                records=len(batch),
                error=str(exc),
                error_type=type(exc).__name__,
            )
            return
        self.metrics.decision_log_written(len(batch))

    def build(
        self,
        result: Mapping[str, Any],
        facts: Any,
        role: str | None,
        at: float,
        caller: str | None = None,
    ) -> DecisionRecord:
        """The record of one decision: masked input, fired rule and subtask names, and who
        asked (`caller`, the token's name; `role`, its role)."""
        outcome = outcome_of(result)
        rules = [] if outcome == "error" else result.get("rules") or []
        return DecisionRecord(
            decision_id=str(result.get("decision_id")),
            time=datetime.fromtimestamp(at, UTC),
            env=self.env,
            version=result.get("snapshot"),
            engine=result.get("engine"),
            lane=result.get("lane"),
            deployment_id=result.get("deployment_id"),
            input=self.redaction.apply(facts) if self.redaction else facts,
            redacted=self.redaction.touched(facts) if self.redaction else [],
            rules=[str(rule.get("rule_name")) for rule in rules],
            subtasks=[str(subtask.get("name")) for subtask in result.get("subtasks") or []],
            duration_ms=result.get("duration_ms"),
            outcome=outcome,
            role=role,
            caller=caller,
            instance=self.instance,
        )

    async def _prune_loop(self) -> None:
        assert self.retention is not None
        every = min(RETENTION_EVERY_S, self.retention.total_seconds() / 4)
        while True:
            try:
                cutoff = datetime.now(UTC) - self.retention
                deleted = await self._store().delete_older_than(cutoff)
                log.debug("decision_log_pruned", deleted=deleted)
            except Exception as exc:  # a background loop: log and go on
                log.warning("decision_log_prune_failed", error=str(exc))
            await asyncio.sleep(every)


def _is_store(sink: DecisionSink) -> TypeGuard[DecisionStore]:
    return callable(getattr(sink, "get", None)) and callable(getattr(sink, "query", None))


def _trace(result: Mapping[str, Any], *, engine: str, lane: str, outcome: str) -> None:
    tracing.record_span(
        "pkg.evaluate",
        duration_s=(result.get("duration_ms") or 0.0) / 1e3,
        attributes={
            "pkg.engine": engine,
            "pkg.version": result.get("snapshot"),
            "pkg.lane": lane,
            "pkg.outcome": outcome,
            "pkg.decision_id": result.get("decision_id"),
            "pkg.deployment_id": result.get("deployment_id"),
        },
    )
