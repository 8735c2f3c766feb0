"""Live numbers from the service's own Prometheus exposition (what `/metrics` answers):
decisions per second, the share of error answers and the p99 decision time.

The page polls a fragment every few seconds; each fragment carries the sample it was computed
from in its own poll URL, so the next one computes rates over the interval between the two,
for every viewer separately and with no state kept on the server."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

DECISIONS: Final = "pkg_decisions_total"
DURATION_BUCKET: Final = "pkg_decision_duration_seconds_bucket"
SAMPLE: Final = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
LABEL: Final = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
MAX_BUCKETS: Final = 64


@dataclass(frozen=True)
class Sample:
    """The counters at one moment: decisions, error answers, cumulative duration buckets."""

    at: float
    decisions: float
    errors: float
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), ascending

    def query(self) -> dict[str, str]:
        return {
            "at": f"{self.at:.3f}",
            "n": f"{self.decisions:g}",
            "e": f"{self.errors:g}",
            "b": ",".join(f"{bound:g}:{count:g}" for bound, count in self.buckets),
        }

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Sample | None:
        """The previous sample a poll URL carries, or None when absent or malformed."""
        try:
            pairs = [part.split(":", 1) for part in query.get("b", "").split(",") if part]
            buckets = tuple((float(bound), float(count)) for bound, count in pairs)
            values = (float(query["at"]), float(query["n"]), float(query["e"]))
        except (KeyError, ValueError):
            return None
        if len(buckets) > MAX_BUCKETS or not all(math.isfinite(v) for v in values):
            return None
        return cls(*values, buckets)


@dataclass(frozen=True)
class LiveNumbers:
    sample: Sample
    interval_s: float | None  # None: no earlier sample (the figures are since start-up)
    rate: float | None  # decisions per second over the interval
    decisions: float  # in the interval, or since start-up
    error_share: float | None
    p99_s: float | None


def parse_exposition(text: str) -> Iterable[tuple[str, dict[str, str], float]]:
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if match is None:
            continue
        name, labels, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        yield name, dict(LABEL.findall(labels or "")), number


def sample_of(text: str, *, at: float) -> Sample:
    decisions = errors = 0.0
    buckets: dict[float, float] = {}
    for name, labels, value in parse_exposition(text):
        if name == DECISIONS:
            decisions += value
            errors += value if labels.get("outcome") == "error" else 0.0
        elif name == DURATION_BUCKET and "le" in labels:
            bound = math.inf if labels["le"] == "+Inf" else float(labels["le"])
            buckets[bound] = buckets.get(bound, 0.0) + value
    return Sample(at, decisions, errors, tuple(sorted(buckets.items())))


def quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float | None:
    """Prometheus' `histogram_quantile`: linear within the bucket the rank falls in; the
    largest finite bound when it falls in +Inf."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def numbers(now: Sample, before: Sample | None) -> LiveNumbers:
    """Figures over the interval since `before`, or since start-up when there is none (or the
    counters went back: another worker answered, or the process restarted)."""
    usable = (
        before is not None
        and before.at < now.at
        and before.decisions <= now.decisions
        and [b for b, _ in before.buckets] == [b for b, _ in now.buckets]
    )
    if not usable or before is None:
        return LiveNumbers(
            now, None, None, now.decisions, _share(now.errors, now.decisions),
            quantile(0.99, now.buckets),
        )  # fmt: skip
    interval = now.at - before.at
    delta = now.decisions - before.decisions
    buckets = tuple(
        (bound, count - old)
        for (bound, count), (_, old) in zip(now.buckets, before.buckets, strict=True)
    )
    return LiveNumbers(
        now, interval, delta / interval, delta, _share(now.errors - before.errors, delta),
        quantile(0.99, buckets),
    )  # fmt: skip


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None
