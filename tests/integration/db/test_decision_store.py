"""`pkg_decision_logs` on SQLite and PostgreSQL: batches go in, come back by id and by version,
and retention deletes what is older than the cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.adapters.db import PKGClient
from app.adapters.db.decisions import SqlDecisionStore
from app.domain.decision import DecisionRecord

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def record(decision_id: str, *, at: datetime, version: str = "rules@1") -> DecisionRecord:
    return DecisionRecord(
        decision_id=decision_id,
        time=at,
        env="prod",
        version=version,
        engine="native",
        lane="canary",
        deployment_id=7,
        input={"tags": ["vip"], "context": {"nested": [1, {"a": None}]}},
        rules=["vip_rule"],
        subtasks=["escalate", "notify"],
        duration_ms=0.042,
        outcome="matched",
        role="evaluator",
        instance="replica-1",
    )


async def test_a_batch_reads_back_as_written(client: PKGClient) -> None:
    store = SqlDecisionStore(client.engine)
    written = [record("a", at=NOW), record("b", at=NOW + timedelta(seconds=1), version="v2")]

    await store.write(written)

    assert await store.get("a") == written[0]
    assert await store.get("missing") is None
    assert await store.query(version="v2", since=None, limit=10) == [written[1]]
    assert [r.decision_id for r in await store.query(version=None, since=NOW, limit=10)] == [
        "b",
        "a",
    ]


async def test_retention_deletes_only_what_is_older_than_the_cutoff(client: PKGClient) -> None:
    store = SqlDecisionStore(client.engine)
    await store.write([record("old", at=NOW - timedelta(days=8)), record("new", at=NOW)])

    deleted = await store.delete_older_than(NOW - timedelta(days=7))

    assert deleted == 1
    assert [r.decision_id for r in await store.query(version=None, since=None, limit=10)] == ["new"]
