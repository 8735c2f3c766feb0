"""Replay: decide the decisions the log recorded again on a candidate version, and report how
the answers differ from what was answered then (docs/lifecycle.md "Replay").

Bounded: records are read from the database page by page (keyset, newest first), each page is
decided in a worker thread (the event loop keeps serving), at most `max_records` per replay and
for at most `timeout_s`; a replay stopped early says so (`truncated`, `truncated_reason`) and
where to go on from (`next_cursor`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, Protocol

from app.domain.decision import DecisionRecord
from app.domain.facts import DEFAULT_MAX_DEPTH
from app.domain.replay import (
    Keyset,
    ReplayReport,
    ReplayRequestError,
    decode_cursor,
    encode_cursor,
    parse_moment,
    read_paths,
)
from app.services.evaluator import PKGEvaluator
from app.services.logs import get_logger
from app.services.ports import RecordedDecisions

log = get_logger("pkg.replay")

REASON_LIMIT: Final = "limit"  # the records asked for were replayed; older ones remain
REASON_MAX_RECORDS: Final = "max_records"  # the server's PKG_REPLAY_MAX_RECORDS
REASON_DEADLINE: Final = "deadline"  # PKG_REPLAY_TIMEOUT_S ran out


class EvaluatorSource(Protocol):
    """Where replay gets the candidate's evaluator (the governance service)."""

    async def load_evaluator(self, version: str) -> PKGEvaluator: ...


@dataclass(frozen=True)
class ReplayConfig:
    max_records: int = 100_000
    timeout_s: float = 30.0
    batch_size: int = 1000
    max_items: int = 100
    max_examples: int = 10
    max_facts_depth: int = DEFAULT_MAX_DEPTH


@dataclass(frozen=True)
class ReplayWindow:
    """Which records: newer than `since`, older than `until`, answered by `answered_by`."""

    since: datetime | None = None
    until: datetime | None = None
    answered_by: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        since: str | None = None,
        until: str | None = None,
        answered_by: str | None = None,
        now: datetime | None = None,
    ) -> ReplayWindow:
        now = now or datetime.now(UTC)
        start = parse_moment(since, now=now, loc="since") if since else None
        end = parse_moment(until, now=now, loc="until") if until else None
        if start is not None and end is not None and end <= start:
            raise ReplayRequestError("until", "must be later than since")
        return cls(start, end, answered_by)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "answered_by": self.answered_by,
        }


class Replay:
    """Replays on this server's env; `records` gives the stored log (404 when not stored)."""

    def __init__(
        self,
        records: Callable[[], RecordedDecisions],
        source: EvaluatorSource,
        *,
        env: str,
        config: ReplayConfig | None = None,
    ) -> None:
        self._records = records
        self._source = source
        self.env = env
        self.config = config or ReplayConfig()

    async def run(
        self,
        version: str,
        *,
        window: ReplayWindow,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Replay up to `limit` records of `window` (newest first, after `cursor`) on `version`."""
        if limit is not None and limit > self.config.max_records:
            raise ReplayRequestError(
                "limit", f"at most {self.config.max_records} records per replay, got {limit}"
            )
        store = self._records()  # 404 before anything is loaded
        evaluator = await self._source.load_evaluator(version)
        report = ReplayReport(
            reads=read_paths(evaluator.snapshot),
            max_items=self.config.max_items,
            max_examples=self.config.max_examples,
        )
        run = _Run(self, store, evaluator, report, window)
        reason, last = await run.until_done(
            limit or self.config.max_records,
            before=decode_cursor(cursor) if cursor else None,
            limit_reason=REASON_LIMIT if limit else REASON_MAX_RECORDS,
        )
        body = report.as_dict()
        return {
            "version": version,
            "env": self.env,
            **window.as_dict(),
            **body,
            "truncated": reason is not None,
            "truncated_reason": reason,
            "next_cursor": encode_cursor(last) if reason is not None and last else None,
        }

    async def figures(self, version: str, since: str | None) -> dict[str, Any]:
        """What a promotion guard weighs (`max_replay_divergence`): the figures of a replay of
        every record since `since` (at most `max_records`, newest first)."""
        report = await self.run(version, window=ReplayWindow.parse(since=since))
        keys = ("records", "replayed", "divergence", "truncated", "truncated_reason", "since")
        return {key: report[key] for key in keys} | {
            "different": report["totals"]["different"],
            "unreplayable": report["unreplayable"]["count"],
        }


class _Run:
    """One replay's reading and deciding, page by page."""

    def __init__(
        self,
        replay: Replay,
        store: RecordedDecisions,
        evaluator: PKGEvaluator,
        report: ReplayReport,
        window: ReplayWindow,
    ) -> None:
        self.config = replay.config
        self.env = replay.env
        self.store = store
        self.report = report
        self.window = window
        self.decide = partial(evaluator.evaluate, max_facts_depth=self.config.max_facts_depth)

    async def until_done(
        self, wanted: int, *, before: Keyset | None, limit_reason: str
    ) -> tuple[str | None, Keyset | None]:
        """(why it stopped early or None, the keyset of the last record replayed)."""
        deadline = time.monotonic() + self.config.timeout_s
        last = before
        # one more than is wanted tells whether older records remain past the limit
        page = await self._page(before=last, size=min(self.config.batch_size, wanted + 1))
        while True:
            left = wanted - self.report.records
            if left <= 0 or not page:
                return (limit_reason if page else None), last
            page = page[:left]
            # the next page is read while this one is decided (a worker thread)
            size = min(self.config.batch_size, left - len(page) + 1)
            following = asyncio.create_task(self._page(before=page[-1][0], size=size))
            try:
                done = await asyncio.to_thread(self._decide, [r for _, r in page], deadline)
                last = page[done - 1][0] if done else last
                if done < len(page) or time.monotonic() >= deadline:
                    more = done < len(page) or bool(await following)
                    return (REASON_DEADLINE if more else None), last
                page = await following
            finally:
                following.cancel()

    async def _page(
        self, *, before: Keyset | None, size: int
    ) -> list[tuple[Keyset, DecisionRecord]]:
        return await self.store.scan(
            env=self.env,
            since=self.window.since,
            until=self.window.until,
            version=self.window.answered_by,
            before=before,
            limit=size,
        )

    def _decide(self, records: Sequence[DecisionRecord], deadline: float) -> int:
        """Replay `records` in order until the (monotonic) deadline; how many were replayed.
        At least one, so a replay always moves on."""
        for done, record in enumerate(records):
            if done and time.monotonic() >= deadline:
                return done
            self.report.replay(record, self.decide)
        return len(records)
