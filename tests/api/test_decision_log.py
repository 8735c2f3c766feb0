"""Decision logs through the API, on SQLite and PostgreSQL: a decision is found by the
`decision_id` its response carried, masked as configured; a full queue drops and counts while
/evaluate keeps answering; reads are admin-only and say so when nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.domain.redaction import MASK
from tests.api.conftest import READ_AUTH, example, push_and_promote
from tests.api.test_metrics import scrape, scrape_until, value

GUEST = {
    "tags": ["vip", "allergy_nuts"],
    "context": {"domain": "hotel_ops", "guest_name": "Ada Lovelace", "card": {"pan": "4111"}},
}
LOGGED = {
    "decision_log": "database",
    "decision_log_mask": ["input.context.guest_name"],
    "decision_log_drop": ["input.context.card"],
}


async def logged(api: httpx.AsyncClient, count: int) -> str:
    """Wait until `count` records were written (the drain task runs beside the requests)."""
    return await scrape_until(api, lambda t: value(t, "pkg_decision_log_written_total") >= count)


async def test_a_decision_is_found_by_its_id_with_the_configured_paths_masked(
    app_factory: Callable[..., Any],
) -> None:
    api = await app_factory(**LOGGED)
    await push_and_promote(api, example("hotel_ops.yaml"))

    decision = (await api.post("/evaluate", json=GUEST, headers=READ_AUTH)).json()
    await logged(api, 1)
    response = await api.get(f"/decisions/{decision['decision_id']}")

    assert response.status_code == 200, response.text
    record = response.json()
    assert record["input"]["context"] == {"domain": "hotel_ops", "guest_name": MASK}
    assert record["input"]["tags"] == GUEST["tags"]
    assert record["rules"] == [rule["rule_name"] for rule in decision["rules"]]
    assert record["subtasks"] == [subtask["name"] for subtask in decision["subtasks"]]
    assert (record["version"], record["engine"], record["lane"]) == (
        decision["snapshot"],
        "native",
        "active",
    )
    assert (record["outcome"], record["role"], record["env"]) == ("matched", "evaluator", "prod")
    assert record["duration_ms"] == decision["duration_ms"]
    assert "Ada" not in response.text and "4111" not in response.text


async def test_decisions_are_listed_newest_first_by_version_and_time(
    app_factory: Callable[..., Any],
) -> None:
    api = await app_factory(decision_log="database")
    await push_and_promote(api, example("hotel_ops.yaml"))
    first = (await api.post("/evaluate", json=GUEST)).json()["decision_id"]
    await push_and_promote(api, example("hotel_ops_v2.yaml"))
    second = (await api.post("/evaluate", json={})).json()["decision_id"]
    third = (await api.post("/evaluate", json={})).json()["decision_id"]
    await logged(api, 3)

    everything = (await api.get("/decisions")).json()["items"]
    v1 = example("hotel_ops.yaml")["version"]
    only_v1 = (await api.get("/decisions", params={"version": v1})).json()["items"]
    newest = (await api.get("/decisions", params={"limit": 1})).json()["items"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = (await api.get("/decisions", params={"since": future})).json()["items"]

    assert [r["decision_id"] for r in everything] == [third, second, first]
    assert [r["decision_id"] for r in only_v1] == [first]
    assert [r["decision_id"] for r in newest] == [third]
    assert later == []


async def test_reading_decisions_needs_the_admin_role(app_factory: Callable[..., Any]) -> None:
    api = await app_factory(decision_log="database")

    assert (await api.get("/decisions", headers=READ_AUTH)).status_code == 403
    assert (await api.get("/decisions/abc", headers={"Authorization": ""})).status_code == 401
    missing = await api.get("/decisions/0123456789abcdef")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_without_the_database_sink_reads_say_nothing_is_stored(
    app_factory: Callable[..., Any],
) -> None:
    api = await app_factory(decision_log="stdout")

    response = await api.get("/decisions")

    assert response.status_code == 404
    assert "PKG_DECISION_LOG=database" in response.json()["detail"]


async def test_off_by_default_nothing_is_written(app_factory: Callable[..., Any]) -> None:
    api = await app_factory()
    await push_and_promote(api, example("hotel_ops.yaml"))

    await api.post("/evaluate", json=GUEST)

    text_ = await scrape(api)
    assert value(text_, "pkg_decision_log_written_total") == 0
    assert (await api.get("/decisions")).status_code == 404


@asynccontextmanager
async def table_locked(db_url: str) -> AsyncIterator[None]:
    """Another session holds the decision table (PostgreSQL) or the write lock (SQLite), so
    the sink's insert waits, as behind a slow or busy database."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(text("BEGIN"))
                await conn.execute(text("LOCK TABLE pkg_decision_logs IN ACCESS EXCLUSIVE MODE"))
            else:
                driver = await conn.get_raw_connection()
                await driver.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
            yield
            await conn.rollback()
    finally:
        await engine.dispose()


async def test_a_full_queue_drops_and_counts_while_evaluate_keeps_answering(
    app_factory: Callable[..., Any], db_url: str
) -> None:
    api = await app_factory(
        decision_log="database", decision_log_queue_size=5, decision_log_batch_size=1
    )
    await push_and_promote(api, example("hotel_ops.yaml"))
    requests = 40

    async with table_locked(db_url):
        statuses = [(await api.post("/evaluate", json=GUEST)).status_code for _ in range(requests)]
        stuck = await scrape(api)

    assert statuses == [200] * requests
    dropped = value(stuck, "pkg_decision_log_dropped_total")
    assert dropped >= requests - 5 - 1  # the queue holds 5, the drain task holds 1
    done = await scrape_until(
        api,
        lambda t: value(t, "pkg_decision_log_written_total") + dropped >= requests,
    )
    assert value(done, "pkg_decision_log_dropped_total") == dropped
    stored = (await api.get("/decisions", params={"limit": 1000})).json()["items"]
    assert len(stored) == requests - dropped


async def test_an_input_with_a_nul_character_is_still_logged(
    app_factory: Callable[..., Any],
) -> None:
    api = await app_factory(decision_log="database")
    await push_and_promote(api, example("hotel_ops.yaml"))

    decision = (await api.post("/evaluate", json={"context": {"note": "a\u0000b"}})).json()
    await logged(api, 1)

    record = (await api.get(f"/decisions/{decision['decision_id']}")).json()
    assert record["input"]["context"]["note"] in ("a\u0000b", "a\ufffdb")  # JSONB has no U+0000
