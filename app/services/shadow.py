"""Shadow lanes: a candidate snapshot decides on live traffic, and nobody waits for it.

The request path makes one call, `offer(route, facts, result)`, after its answer is computed:
it puts the request on a bounded queue when the route was sampled into a shadow lane (a full
queue drops it and counts the drop) and hands the answer to the promotion guard's counters.
A task started by the composition root drains the queue: it evaluates the facts on the lane's
snapshot, compares the two decisions (app/domain/compare.py) and counts. Another task flushes
this replica's counts to the database, where `report` adds up the fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

from app.domain.compare import DecisionDiff, compare_decisions, is_error
from app.domain.redaction import Redaction
from app.services.evaluator import PKGEvaluator
from app.services.logs import get_logger
from app.services.ports import ShadowStore
from app.services.rollout import Route
from app.services.store_link import bounded

log = get_logger("pkg.shadow")

RESULTS: Final = ("identical", "different", "error", "dropped")
OUTCOME_KEYS: Final = ("snapshot", "subtasks", "dag", "rules", "result")
DRAIN_BATCH: Final = 32  # evaluations between two yields to the event loop
T = TypeVar("T")


class ShadowMetrics(Protocol):
    def shadow_decision(self, lane: str, result: str) -> None: ...


class DecisionCounter(Protocol):
    """Counts live answers (the promotion guard's error-rate watch)."""

    def count(self, result: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Example:
    """A differing (or failing) shadow decision, kept as it came: masking and rendering wait
    until it is written or read, so the request-rate path only keeps references."""

    at: float
    kind: str
    facts: Any
    served: Mapping[str, Any]
    shadow: Mapping[str, Any]
    diff: DecisionDiff | None

    def render(self, redaction: Redaction) -> dict[str, Any]:
        return {
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
            "kind": self.kind,
            "input": redaction.apply(self.facts),
            "served": _outcome(self.served),
            "shadow": _outcome(self.shadow),
            "diff": self.diff.as_dict() if self.diff is not None else None,
        }


@dataclass
class LaneStats:
    """One replica's counts for one (lane, shadow version), cumulative since it started."""

    deployment_id: int
    version: str
    examples_limit: int
    evaluated: int = 0
    identical: int = 0
    different: int = 0
    errors: int = 0
    dropped: int = 0
    examples: deque[Example] = field(default_factory=deque)
    dirty: bool = False

    def __post_init__(self) -> None:
        self.examples = deque(maxlen=self.examples_limit)

    def row(self, replica: str, *, redaction: Redaction) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "version": self.version,
            "replica": replica,
            "evaluated": self.evaluated,
            "identical": self.identical,
            "different": self.different,
            "errors": self.errors,
            "dropped": self.dropped,
            "examples": [example.render(redaction) for example in self.examples],
        }


@dataclass(frozen=True)
class ShadowConfig:
    replica: str
    queue_size: int = 1000
    examples: int = 10
    flush_interval_s: float = 5.0
    redaction: Redaction = field(default_factory=lambda: Redaction.masking_facts(["context"]))
    max_facts_depth: int = 32
    db_timeout_s: float = 5.0


class NullCounter:
    def count(self, result: Mapping[str, Any]) -> None:
        pass


class ShadowRunner:
    def __init__(
        self,
        *,
        resolve: Callable[[str], Awaitable[PKGEvaluator]],
        store: ShadowStore | None,
        metrics: ShadowMetrics,
        config: ShadowConfig,
        counter: DecisionCounter | None = None,
    ) -> None:
        self._resolve = resolve
        self._store = store
        self._metrics = metrics
        self.config = config
        self.counter: DecisionCounter = counter or NullCounter()
        self._queue: asyncio.Queue[tuple[Route, Any, Mapping[str, Any]]] = asyncio.Queue(
            maxsize=config.queue_size
        )
        self._lanes: dict[tuple[int, str], LaneStats] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._flushing = asyncio.Lock()

    # ------------------------------------------------------------------ the request path
    def offer(self, route: Route, facts: Any, result: Mapping[str, Any]) -> None:
        """Never blocks, never raises for a shadow's sake: the answer is already decided."""
        self.counter.count(result)
        if route.shadow_version is None or route.shadow_deployment_id is None:
            return
        try:
            self._queue.put_nowait((route, facts, result))
        except asyncio.QueueFull:
            lane = self._lane(route.shadow_deployment_id, route.shadow_version)
            lane.dropped += 1
            lane.dirty = True
            self._metrics.shadow_decision(str(lane.deployment_id), "dropped")

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._drain(), name="pkg-shadow-drain")]
        if self._store is not None:
            flush = asyncio.create_task(self._flush_loop(), name="pkg-shadow-flush")
            self._tasks.append(flush)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.flush()

    # ------------------------------------------------------------------ reading
    def local(self) -> list[dict[str, Any]]:
        """This replica's counts, lane by lane (what it has not flushed included)."""
        return [self._row(lane) for lane in self._lanes.values()]

    def _row(self, lane: LaneStats) -> dict[str, Any]:
        return lane.row(self.config.replica, redaction=self.config.redaction)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def flush(self) -> None:
        if self._store is None:
            return
        # one flush at a time: rows are cumulative overwrites, and an older snapshot of the
        # counts committing after a newer one would take the fleet's totals backwards
        async with self._flushing:
            dirty = [lane for lane in self._lanes.values() if lane.dirty]
            if not dirty:
                return
            for lane in dirty:
                lane.dirty = False
            try:
                await self._db(self._store.flush_shadow_stats([self._row(lane) for lane in dirty]))
            except BaseException:
                for lane in dirty:
                    lane.dirty = True  # counts are cumulative: the next flush carries them
                raise

    async def report(self, deployment_id: int, *, version: str) -> dict[str, Any]:
        """Fleet-wide totals and the newest differing examples for one lane and version."""
        rows = self.local()
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self.flush()  # this replica's newest counts are part of the answer
            rows = await self._db(
                self._store.shadow_stats(deployment_id=deployment_id, version=version)
            )
        rows = [r for r in rows if r["deployment_id"] == deployment_id and r["version"] == version]
        summary = summarize(rows, examples=self.config.examples)
        return {**summary, "version": version, "pending": self.backlog}

    async def totals_for(self, version: str) -> dict[str, Any]:
        """Every shadow lane's counts for `version`, fleet-wide (the divergence guard)."""
        rows = [r for r in self.local() if r["version"] == version]
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self.flush()
            rows = await self._db(self._store.shadow_stats(version=version))
        summary = summarize(rows, examples=0)
        totals: dict[str, Any] = summary["totals"]
        return totals

    async def _db(self, call: Awaitable[T]) -> T:
        return await bounded(call, self.config.db_timeout_s)

    # ------------------------------------------------------------------ the background
    def _lane(self, deployment_id: int, version: str) -> LaneStats:
        key = (deployment_id, version)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = LaneStats(deployment_id, version, self.config.examples)
        return lane

    async def _drain(self) -> None:
        while True:
            for _ in range(DRAIN_BATCH):
                route, facts, served = await self._queue.get()
                await self._shadow(route, facts, served)
                if self._queue.empty():
                    break
            await asyncio.sleep(0)  # let requests run between batches

    async def _shadow(self, route: Route, facts: Any, served: Mapping[str, Any]) -> None:
        assert route.shadow_version is not None and route.shadow_deployment_id is not None
        lane = self._lane(route.shadow_deployment_id, route.shadow_version)
        lane.evaluated += 1
        lane.dirty = True
        try:
            evaluator = await self._resolve(route.shadow_version)
            shadow = evaluator.evaluate(facts, max_facts_depth=self.config.max_facts_depth)
        except Exception as exc:  # a broken shadow (it would not even load) is counted
            error = {"rule_id": "error", "error": str(exc), "error_type": type(exc).__name__}
            shadow = {"subtasks": [], "dag": [], "rules": [error], "snapshot": route.shadow_version}
        if is_error(shadow):
            lane.errors += 1
            self._metrics.shadow_decision(str(lane.deployment_id), "error")
            lane.examples.append(Example(time.time(), "error", facts, served, shadow, None))
            return
        diff = compare_decisions(served, shadow)
        if not diff.differs:
            lane.identical += 1
            self._metrics.shadow_decision(str(lane.deployment_id), "identical")
            return
        lane.different += 1
        self._metrics.shadow_decision(str(lane.deployment_id), "different")
        lane.examples.append(Example(time.time(), "different", facts, served, shadow, diff))

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval_s)
            try:
                await self.flush()
            except Exception as exc:  # the database may be away: the counts wait for it
                log.warning("shadow_flush_failed", error=str(exc), error_type=type(exc).__name__)


def _outcome(decision: Mapping[str, Any]) -> dict[str, Any]:
    return {key: decision[key] for key in OUTCOME_KEYS if key in decision}


def summarize(rows: Sequence[Mapping[str, Any]], *, examples: int) -> dict[str, Any]:
    """Add up replicas' rows: totals, divergence, per-replica counts and the newest examples."""
    totals = {key: sum(int(r.get(key) or 0) for r in rows) for key in _COUNTERS}
    evaluated = totals["evaluated"]
    divergent = totals["different"] + totals["errors"]
    merged = sorted(
        (example for r in rows for example in r.get("examples") or ()),
        key=lambda e: str(e.get("at")),
        reverse=True,
    )
    return {
        "totals": {**totals, "divergence": divergent / evaluated if evaluated else None},
        "replicas": [
            {"replica": r["replica"], **{key: int(r.get(key) or 0) for key in _COUNTERS}}
            | {"updated_at": r.get("updated_at")}
            for r in rows
        ],
        "examples": merged[:examples],
    }


_COUNTERS: Final = ("evaluated", "identical", "different", "errors", "dropped")
