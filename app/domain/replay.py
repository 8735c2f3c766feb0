"""Replay: recorded decisions decided again on a candidate version, and how the answers differ
from what was answered then.

Pure and sync. A decision record keeps the names of the fired rules and emitted subtasks (not
their params or the DAG), so both sides are compared in that outline: the recorded answer, and
the candidate's answer reduced to the same names (`outline_of_record`, `outline_of_decision`),
through the comparison of app/domain/compare.py.

A record whose input was masked or dropped (`DecisionRecord.redacted`) on a path a condition of
the candidate reads cannot be decided faithfully: it is counted `unreplayable` with that path,
never decided on the redacted value. Which paths a snapshot reads: TAG conditions read `tags`,
SIGNAL `signals.<key>`, FACT and VALUE their dotted key; a wasm policy may read anything.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from app.domain.compare import CompareTotals, DecisionDiff, compare_decisions
from app.domain.decision import DecisionRecord, outcome_of
from app.domain.errors import FactsError
from app.domain.redaction import ROOT, WILDCARD, masked_paths
from app.domain.snapshot import PKGSnapshotData

MISSING: Final[Any] = object()
ANY_PATH: Final = None  # `read_paths` of a policy that may read any part of the input
ERROR_OUTLINE: Final = ({"rule_id": "error"},)
MAX_RULES_REPORTED: Final = 100
MAX_ROW_ID: Final = 2**63  # a BIGINT id
DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

Path = tuple[str, ...]
Decide = Callable[[Any], Mapping[str, Any]]


class ReplayRequestError(FactsError):
    """A replay asked for what cannot be (`limit` over the maximum, a bad `since`, a cursor that
    is none): 422 naming the field."""


Keyset = tuple[datetime, int]


def parse_moment(text: str, *, now: datetime, loc: str) -> datetime:
    """`24h`, `30m`, `7d`, `90s`, `2w` (that long before `now`) or an ISO 8601 time (UTC
    unless it says otherwise)."""
    duration = DURATION.fullmatch(text.strip())
    try:
        if duration is not None:
            return now - timedelta(seconds=float(duration[1]) * UNITS[duration[2]])
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, OverflowError):
        why = f"{text!r} is neither a duration (24h, 30m) nor an ISO 8601 time"
        raise ReplayRequestError(loc, why) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def encode_cursor(key: Keyset) -> str:
    return f"{key[1]}@{key[0].isoformat()}"


def decode_cursor(text: str) -> Keyset:
    """The keyset a report's `next_cursor` names (the last record it read)."""
    key, _, at = text.partition("@")
    try:
        moment = datetime.fromisoformat(at)
        row = int(key)
        if not 0 < row < MAX_ROW_ID:
            raise ValueError(key)
    except ValueError:
        raise ReplayRequestError("cursor", "not a cursor a replay answered") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), row


def read_paths(snapshot: PKGSnapshotData) -> frozenset[Path] | None:
    """The input paths the snapshot's enabled conditions read, or ANY_PATH (wasm, custom)."""
    if snapshot.engine != "native":
        return ANY_PATH
    paths: set[Path] = set()
    for rule in snapshot.rules:
        if rule["disabled"]:
            continue
        for condition in rule["conditions"]:
            paths.add(_condition_path(condition["condition_type"], condition["condition_key"]))
    return frozenset(paths)


def _condition_path(kind: str, key: str | None) -> Path:
    if kind == "TAG":
        return ("tags",)
    if kind == "SIGNAL":
        return ("signals", str(key))
    return tuple(str(key).split("."))


def blocking_path(redacted: Iterable[str], reads: frozenset[Path] | None) -> str | None:
    """The first redacted path a read path overlaps (one is a prefix of the other; `*`
    matches any segment), or None: the record can be replayed faithfully."""
    for text in redacted:
        segments = tuple(text.split("."))[1:] if text.startswith(f"{ROOT}.") else ()
        if reads is ANY_PATH or not segments:
            return text
        if any(_overlap(segments, read) for read in reads):
            return text
    return None


def _overlap(a: Path, b: Path) -> bool:
    return all(x == y or WILDCARD in (x, y) for x, y in zip(a, b, strict=False))


def redacted_paths(record: DecisionRecord) -> list[str]:
    """What the record says was masked or dropped; an older record that did not note it is
    searched for masked values (its drops left no trace)."""
    if record.redacted is not None:
        return list(record.redacted)
    return masked_paths(record.input)


def outline_of_record(record: DecisionRecord) -> dict[str, Any]:
    """The recorded answer, as a decision `compare_decisions` reads."""
    if record.outcome == "error":
        return {"subtasks": [], "dag": [], "rules": list(ERROR_OUTLINE)}
    return {
        "subtasks": [{"name": name} for name in record.subtasks],
        "dag": [],
        "rules": [{"rule_name": name} for name in record.rules],
    }


def outline_of_decision(decision: Mapping[str, Any]) -> dict[str, Any]:
    """A decision reduced to what a record keeps: rule and subtask names, or the error."""
    subtasks = [{"name": str(s.get("name"))} for s in decision.get("subtasks") or ()]
    if outcome_of(decision) == "error":
        return {"subtasks": subtasks, "dag": [], "rules": list(ERROR_OUTLINE)}
    rules = [{"rule_name": str(r.get("rule_name"))} for r in decision.get("rules") or ()]
    return {"subtasks": subtasks, "dag": [], "rules": rules}


@dataclass
class ReplayReport:
    """Totals over replayed records, the rules whose firing changed, and the newest examples.

    `totals` are compare's, A being what was answered then and B the candidate; records are
    offered newest first, so the first differing ones kept are the newest."""

    reads: frozenset[Path] | None = ANY_PATH  # what the candidate reads (`read_paths`)
    max_items: int = 100
    max_examples: int = 10
    records: int = 0
    totals: CompareTotals = field(default_factory=CompareTotals)
    unreplayable: Counter[str] = field(default_factory=Counter)
    fired_more: Counter[str] = field(default_factory=Counter)
    fired_less: Counter[str] = field(default_factory=Counter)
    items: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    items_dropped: int = 0
    # records share a few redaction notes (the server's mask and drop paths): each is looked
    # up against the read paths once
    _blocked: dict[tuple[str, ...], str | None] = field(default_factory=dict, repr=False)

    def replay(self, record: DecisionRecord, decide: Decide) -> None:
        """Decide one record on the candidate (unless a redacted path is read) and count it."""
        self.records += 1
        redacted = tuple(redacted_paths(record))
        blocked = self._blocked.get(redacted, MISSING) if redacted else None
        if blocked is MISSING:
            blocked = self._blocked[redacted] = blocking_path(redacted, self.reads)
        if blocked is not None:
            self.unreplayable[blocked] += 1
            return
        try:
            decision = decide(record.input)
        except FactsError as exc:  # facts no engine takes now (a tighter depth limit, ...)
            self.unreplayable[f"{ROOT}.{exc.loc}" if exc.loc else ROOT] += 1
            return
        then, now = outline_of_record(record), outline_of_decision(decision)
        diff = compare_decisions(then, now)
        self.totals.add(diff, a=then, b=now)
        if diff.differs:
            self._differs(record, diff, now)

    def _differs(self, record: DecisionRecord, diff: DecisionDiff, now: Mapping[str, Any]) -> None:
        self.fired_more.update(diff.rules_added)
        self.fired_less.update(diff.rules_removed)
        if len(self.items) >= self.max_items:
            self.items_dropped += 1
        else:
            self.items.append({"index": self.records - 1, **_about(record), **diff.as_dict()})
        if len(self.examples) < self.max_examples:
            self.examples.append(_example(record, now))

    @property
    def divergence(self) -> float | None:
        """Share of the replayed records answered differently (None: nothing replayed)."""
        replayed = self.totals.inputs
        return self.totals.different / replayed if replayed else None

    def rules(self) -> list[dict[str, Any]]:
        """The rules whose firing changed, most changed first (then by name)."""
        names = set(self.fired_more) | set(self.fired_less)
        rows: list[dict[str, Any]] = [
            {
                "rule": name,
                "fired_more": self.fired_more[name],
                "fired_less": self.fired_less[name],
                "changed": self.fired_more[name] + self.fired_less[name],
            }
            for name in names
        ]
        rows.sort(key=lambda row: (-row["changed"], row["rule"]))
        return rows[:MAX_RULES_REPORTED]

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "replayed": self.totals.inputs,
            "unreplayable": {
                "count": sum(self.unreplayable.values()),
                "paths": dict(self.unreplayable.most_common()),
            },
            "totals": self.totals.as_dict(),
            "divergence": self.divergence,
            "rules": self.rules(),
            "items": self.items,
            "items_dropped": self.items_dropped,
            "examples": self.examples,
        }


def _about(record: DecisionRecord) -> dict[str, Any]:
    return {
        "decision_id": record.decision_id,
        "time": record.time.isoformat(),
        "answered_by": record.version,
    }


def _example(record: DecisionRecord, now: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_about(record),
        "input": record.input,  # as the log kept it: masked paths stay masked
        "recorded": {"rules": list(record.rules), "subtasks": list(record.subtasks)},
        "replayed": {
            "rules": _names(now["rules"], "rule_name", "rule_id"),
            "subtasks": _names(now["subtasks"], "name"),
        },
        "outcome": record.outcome,
    }


def _names(items: Sequence[Mapping[str, Any]], *keys: str) -> list[str]:
    return [str(next((item[k] for k in keys if item.get(k) is not None), None)) for item in items]
