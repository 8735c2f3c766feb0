"""Production coverage counting on the request path: per version and time bucket."""

from __future__ import annotations

from typing import Any

from app.services.coverage import RuleTally, TallyConfig, parse_since


class Clock:
    now = 120.0

    def __call__(self) -> float:
        return self.now


def decision(*rules: str, version: str = "v") -> dict[str, Any]:
    return {"snapshot": version, "rules": [{"rule_id": r, "rule_name": r} for r in rules]}


def test_fired_rules_are_counted_per_bucket_and_errors_apart() -> None:
    clock, seen = Clock(), []

    class Then:
        def count(self, result: Any) -> None:
            seen.append(result)

    tally = RuleTally(None, TallyConfig("r1", bucket_s=60), then=Then(), clock=clock)
    tally.count(decision("a", "b"))
    clock.now = 185.0
    tally.count(decision("a"))
    tally.count({"snapshot": "v", "rules": [{"rule_id": "error", "error": "x"}]})
    tally.count({"rules": "nonsense"})  # never raises
    from datetime import UTC, datetime

    rules, decisions = tally.local("v", since=datetime.fromtimestamp(0, UTC))
    assert sorted((r["bucket"].timestamp(), r["rule"], r["fired"]) for r in rules) == [
        (120.0, "a", 1),
        (120.0, "b", 1),
        (180.0, "a", 1),
    ]
    assert sorted((d["decisions"], d["errors"]) for d in decisions) == [(1, 0), (2, 1)]
    assert len(seen) == 4  # the next counter (the guard's) sees every answer


def test_since_is_a_duration() -> None:
    assert parse_since("24h").total_seconds() == 86400
    for bad in ("", "h", "0h", "1y", "-1h"):
        try:
            parse_since(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
