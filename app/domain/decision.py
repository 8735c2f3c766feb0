"""One decision, as the decision log keeps it (OPA's decision-log record, PKG's fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final, Literal

Outcome = Literal["matched", "no_match", "error"]
ERROR_RULE_IDS: Final = frozenset({"error", "wasm-fallback"})


def outcome_of(result: Mapping[str, Any]) -> Outcome:
    """`error` for the error envelope (or wasm's fallback); `matched` when a rule fired, a
    subtask was emitted, or a wasm policy's raw `result` is not empty or false; else
    `no_match`."""
    rules = result.get("rules") or ()
    if rules:
        first = rules[0]
        if (type(first) is dict or isinstance(first, Mapping)) and first.get(
            "rule_id"
        ) in ERROR_RULE_IDS:
            return "error"
        return "matched"
    raw = result.get("result")
    matched = result.get("subtasks") or raw not in (None, False, {}, [], "")
    return "matched" if matched else "no_match"


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    decision_id: str
    time: datetime
    env: str
    version: str | None
    engine: str | None
    lane: str | None
    deployment_id: int | None
    input: Any  # the facts, masked and dropped as configured
    rules: list[str]  # names of the fired rules
    subtasks: list[str]  # names of the emitted subtasks
    duration_ms: float | None
    outcome: Outcome
    role: str | None  # the caller's role, never its token
    instance: str | None
    # the redaction paths that reached this input (`Redaction.touched`); None: not noted (a
    # record written before 0007), [] nothing masked or dropped
    redacted: list[str] | None = None
    # the caller's name (its token's name, as the audit trail records it); None: no token
    # (a library call) or a record written before 0008
    caller: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["time"] = self.time.isoformat()
        return body
