"""Guard decisions are audit events on the log stream: action, actor, env, version."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.adapters.observability.logging import configure_logging
from app.services.guard import GUARD_ACTOR
from tests.unit.services.test_shadow import ERROR, FakePromoter, FakeStore, arm, watch


def audit_events(err: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [event for event in events if event.get("event") == "audit"]


async def test_a_guard_that_rolls_back_logs_an_audit_event(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(level="INFO", json=True)
    store, promoter = FakeStore(), FakePromoter()
    await arm(store)
    guard = watch(store, promoter, "a", "v2")
    await guard.tick()
    for _ in range(4):
        guard.count(ERROR)
    await guard.tick()
    await guard.tick()

    (event,) = audit_events(capsys.readouterr().err)
    assert {k: event[k] for k in ("action", "outcome", "actor", "env", "version")} == {
        "action": "guard_rolled_back",
        "outcome": "done",
        "actor": GUARD_ACTOR,
        "env": "prod",
        "version": "v2",
    }
    assert (event["promotion_id"], event["decisions"], event["errors"]) == (7, 4, 4)
    assert event["level"] == "warning" and "error answers" in event["reason"]


async def test_a_superseded_guard_logs_its_decision(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json=True)
    store, promoter = FakeStore(), FakePromoter()
    await arm(store)
    await watch(store, promoter, "a", "v3").tick()
    (event,) = audit_events(capsys.readouterr().err)
    assert (event["action"], event["actor"], event["version"]) == (
        "guard_superseded",
        GUARD_ACTOR,
        "v2",
    )
