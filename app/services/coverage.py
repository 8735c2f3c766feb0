"""Coverage (docs/lifecycle.md, "Coverage"): the fixture coverage of a snapshot, and production
coverage, how often each rule fired across the fleet.

On the request path `RuleTally.count(result)` (called for every answer through
`ShadowRunner.offer`, like the guard's counter) adds one to this replica's count of each fired
rule in the current time bucket: a dict increment per fired rule. A task flushes the counts to
the database every `flush_interval_s`, as cumulative overwrites under this replica's own key (an
idempotent write, like the shadow counts), and drops buckets that are over and written.
`report` adds up the fleet's rows of a window.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol, TypeVar

from app.domain.coverage import fixture_coverage, production_coverage
from app.domain.document import Fixture
from app.domain.snapshot import PKGSnapshotData
from app.services.background import BackgroundTasks
from app.services.evaluator import PKGEvaluator
from app.services.logs import get_logger
from app.services.ports import Row, RuleCountStore
from app.services.store_link import bounded

log = get_logger("pkg.coverage")

ERROR_RULE_ID: Final = "error"
DURATION_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SINCE_PATTERN: Final = r"^[1-9][0-9]{0,6}[smhdw]$"
T = TypeVar("T")


def measure_fixtures(evaluator: PKGEvaluator, fixtures: Sequence[Fixture]) -> dict[str, Any]:
    """The fixture coverage of the evaluator's snapshot (sync: run it in a thread)."""
    return fixture_coverage(
        fixtures,
        explain=evaluator.explain,
        evaluate=evaluator.evaluate,
        engine=evaluator.engine_type,
    )


def parse_since(text: str) -> timedelta:
    """`90s`, `30m`, `24h`, `7d`, `2w` → a duration; `ValueError` for anything else."""
    unit = DURATION_UNITS.get(text[-1:]) if text else None
    if unit is None or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 24h, 7d or 2w")
    return timedelta(seconds=int(text[:-1]) * unit)


# ------------------------------------------------------------------------------ counting
@dataclass
class BucketTally:
    """One replica's counts for one (version, time bucket), cumulative."""

    decisions: int = 0
    errors: int = 0
    fired: dict[str, int] = field(default_factory=dict)
    dirty: bool = False


@dataclass(frozen=True)
class TallyConfig:
    replica: str
    bucket_s: int = 60
    flush_interval_s: float = 5.0
    db_timeout_s: float = 5.0


class DecisionCounter(Protocol):
    def count(self, result: Mapping[str, Any]) -> None: ...


class RuleTally:
    """This replica's fired-rule counts per (version, time bucket), flushed to the database."""

    def __init__(
        self,
        store: RuleCountStore | None,
        config: TallyConfig,
        *,
        then: DecisionCounter | None = None,
        clock: Any = time.time,
    ) -> None:
        self._store = store
        self.config = config
        self._then = then  # another counter of every answer (the promotion guard's)
        self._clock = clock
        self._tallies: dict[tuple[str, int], BucketTally] = {}
        self._tasks = BackgroundTasks(log)
        self._flushing = asyncio.Lock()

    # ------------------------------------------------------------------ the request path
    def count(self, result: Mapping[str, Any]) -> None:
        """Never raises: the answer is already decided."""
        try:
            self._count(result)
        except Exception as exc:  # a result of an unexpected shape is not counted
            log.debug("coverage_count_skipped", error=str(exc))
        if self._then is not None:
            self._then.count(result)

    def _count(self, result: Mapping[str, Any]) -> None:
        version = result.get("snapshot")
        if type(version) is not str:
            return
        key = (version, int(self._clock() // self.config.bucket_s))
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = BucketTally()
        tally.decisions += 1
        tally.dirty = True
        rules = result.get("rules")
        if not rules or type(rules) is not list:
            return
        fired = tally.fired
        for rule in rules:
            name = (rule.get("rule_name") or rule.get("rule_id")) if type(rule) is dict else rule
            if name == ERROR_RULE_ID and type(rule) is dict and rule.get("rule_id") == name:
                tally.errors += 1
                return
            if type(name) is str:
                fired[name] = fired.get(name, 0) + 1

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._store is not None:  # the database may be away: the counts wait for it
            interval, failed = self.config.flush_interval_s, "coverage_flush_failed"
            self._tasks.every(
                "pkg-coverage-flush", interval, self.flush, failed=failed, level="warning"
            )

    async def stop(self) -> None:
        await self._tasks.stop()
        with contextlib.suppress(Exception):
            await self.flush()

    # ------------------------------------------------------------------ flushing
    def local(self, version: str, *, since: datetime) -> tuple[list[Row], list[Row]]:
        """This replica's rows of a window (what it has not flushed included)."""
        first = self._bucket_of(since)
        chosen = {k: t for k, t in self._tallies.items() if k[0] == version and k[1] >= first}
        return self._rows(chosen)

    def _rows(self, tallies: Mapping[tuple[str, int], BucketTally]) -> tuple[list[Row], list[Row]]:
        replica, rules, decisions = self.config.replica, [], []
        for (version, bucket), tally in tallies.items():
            start = self.bucket_start(bucket)
            decisions.append(
                {
                    "version": version,
                    "bucket": start,
                    "replica": replica,
                    "decisions": tally.decisions,
                    "errors": tally.errors,
                }
            )
            rules += [
                {"version": version, "bucket": start, "replica": replica, "rule": r, "fired": n}
                for r, n in tally.fired.items()
            ]
        return rules, decisions

    def bucket_start(self, bucket: int) -> datetime:
        return datetime.fromtimestamp(bucket * self.config.bucket_s, UTC)

    def _bucket_of(self, instant: datetime) -> int:
        return int(instant.timestamp() // self.config.bucket_s)

    async def flush(self) -> None:
        if self._store is None:
            return
        async with self._flushing:  # cumulative overwrites: an older one must not land last
            dirty = {key: tally for key, tally in self._tallies.items() if tally.dirty}
            for tally in dirty.values():
                tally.dirty = False
            try:
                if dirty:
                    await self._db(self._store.flush_rule_counts(*self._rows(dirty)))
            except BaseException:
                for tally in dirty.values():
                    tally.dirty = True  # cumulative: the next flush carries them
                raise
            self._forget_written()

    def _forget_written(self) -> None:
        current = int(self._clock() // self.config.bucket_s)
        for key in [k for k, t in self._tallies.items() if k[1] < current and not t.dirty]:
            del self._tallies[key]

    async def _db(self, call: Awaitable[T]) -> T:
        return await bounded(call, self.config.db_timeout_s)

    # ------------------------------------------------------------------ reading
    async def report(self, snapshot: PKGSnapshotData, *, since: timedelta) -> dict[str, Any]:
        """Fleet-wide fired-rule counts of `snapshot` over the last `since`, and its enabled
        rules that never fired. The window starts at the start of the bucket `since` falls in."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        start = self.bucket_start(self._bucket_of(now - since))
        if self._store is None:
            rules, decisions = self.local(snapshot.version, since=start)
        else:
            with contextlib.suppress(Exception):
                await self.flush()  # this replica's newest counts are part of the answer
            rules = await self._db(self._store.rule_counts(snapshot.version, since=start))
            decisions = await self._db(self._store.decision_counts(snapshot.version, since=start))
        coverage = production_coverage(snapshot.rules, rules, decisions, engine=snapshot.engine)
        return {
            "version": snapshot.version,
            "since": start.isoformat(),
            "until": now.isoformat(),
            "bucket_s": self.config.bucket_s,
            **coverage,
        }


class SnapshotReader(Protocol):
    async def snapshot(self, version: str) -> PKGSnapshotData: ...


async def production_report(
    source: SnapshotReader, tally: RuleTally, version: str, *, since: timedelta
) -> dict[str, Any]:
    """Production coverage of a stored version (404 when it is unknown)."""
    return await tally.report(await source.snapshot(version), since=since)
