"""What /metrics says after the things operators watch: each decision outcome, promotions,
failed activations, Redis reconnects, HTTP requests by route template. Asserted on the scraped
text, parsed the way Prometheus parses it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from tests.api.conftest import example, push_and_promote
from tests.api.test_wasm_policy import wasm_document

VIP = {"tags": ["vip", "allergy_nuts"], "context": {"domain": "hotel_ops"}}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(api: httpx.AsyncClient) -> str:
    response = await api.get("/metrics")
    assert response.status_code == 200
    return response.text


async def scrape_until(
    api: httpx.AsyncClient, predicate: Callable[[str], bool], *, within: float = 15.0
) -> str:
    """The first scrape for which `predicate` holds (another task moves the metric)."""
    async with asyncio.timeout(within):
        while not predicate(text := await scrape(api)):  # noqa: ASYNC110  # state is elsewhere
            await asyncio.sleep(0.01)
    return text


async def subscribed(api: httpx.AsyncClient) -> None:
    async with asyncio.timeout(15):
        while not (await api.get("/health")).json()["redis_connected"]:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_each_outcome_moves_its_own_decision_counter(api: httpx.AsyncClient) -> None:
    await push_and_promote(api, example("hotel_ops.yaml"))
    decided = {"engine": "native", "lane": "active"}

    await api.post("/evaluate", json=VIP)
    await api.post("/evaluate", json={"tags": []})
    await api.post("/evaluate", json={"tags": []})
    text = await scrape(api)

    assert value(text, "pkg_decisions_total", **decided, outcome="matched") == 1
    assert value(text, "pkg_decisions_total", **decided, outcome="no_match") == 2
    fired = (await api.post("/evaluate", json=VIP)).json()["rules"]
    after = await scrape(api)
    assert value(after, "pkg_rules_fired_total", **decided) == 2 * len(fired)

    await api.post("/snapshots", json=wasm_document("kitchen@9.0.0", entrypoint="abort"))
    await api.post("/promotions", json={"version": "kitchen@9.0.0", "force": True})
    assert (await api.post("/evaluate", json={})).json()["rules"][0]["rule_id"] == "error"
    text = await scrape(api)
    assert value(text, "pkg_decisions_total", engine="wasm", lane="active", outcome="error") == 1


async def test_a_batch_counts_one_decision_per_item(api: httpx.AsyncClient) -> None:
    await push_and_promote(api, example("hotel_ops.yaml"))

    await api.post("/evaluate/batch", json={"items": [VIP, {}, {}]})

    text = await scrape(api)
    labels = {"engine": "native", "lane": "active"}
    assert value(text, "pkg_decisions_total", **labels, outcome="matched") == 1
    assert value(text, "pkg_decisions_total", **labels, outcome="no_match") == 2


async def test_promotions_count_swaps_under_the_seed_name_and_by_source(
    api: httpx.AsyncClient,
) -> None:
    await push_and_promote(api, example("hotel_ops.yaml"))
    await push_and_promote(api, example("hotel_ops_v2.yaml"))

    text = await scrape(api)

    assert value(text, "pkg_hotswap_count") == 2  # the seed's name, as the seed documents it
    assert value(text, "pkg_hotswap_count_total") == 2  # and Prometheus' counter convention
    assert value(text, "pkg_swaps_total", source="api") == 2
    v1, v2 = example("hotel_ops.yaml")["version"], example("hotel_ops_v2.yaml")["version"]
    assert value(text, "pkg_active_version", version=v2) == 1
    assert value(text, "pkg_active_version", version=v1) == 0
    assert value(text, "pkg_active_since_timestamp_seconds") > 0


async def test_http_requests_are_counted_by_route_template_and_status(
    api: httpx.AsyncClient,
) -> None:
    await api.get("/snapshots/nope@1")
    await api.get("/snapshots/nope@2")
    await api.get("/no/such/path")
    response = await api.get("/health", headers={"X-Request-ID": "req-42"})

    text = await scrape(api)

    route = {"method": "GET", "route": "/snapshots/{version}", "status": "404"}
    assert value(text, "pkg_http_requests_total", **route) == 2
    assert value(text, "pkg_http_request_duration_seconds_count", **route) == 2
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(text, "pkg_http_requests_total", **unmatched) == 1
    assert response.headers["x-request-id"] == "req-42"


async def test_the_default_process_and_gc_collectors_are_exported(api: httpx.AsyncClient) -> None:
    names = {name for name, _labels in samples(await scrape(api))}

    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names
    assert {"python_gc_collections_total", "python_info"} <= names


@pytest.fixture
def channel() -> str:
    return f"pkg_updates_{uuid.uuid4().hex[:8]}"


async def test_a_failed_activation_is_counted_and_the_old_evaluator_stays(
    app_factory: Callable[..., Any], redis_url: str, channel: str
) -> None:
    api = await app_factory(redis_url=redis_url, redis_channel=channel)
    await push_and_promote(api, example("hotel_ops.yaml"))
    await subscribed(api)
    client = Redis.from_url(redis_url)
    try:
        await client.publish(channel, "activate:missing@9.9.9")
    finally:
        await client.aclose()

    text = await scrape_until(api, lambda t: value(t, "pkg_activation_failures_total") > 0)
    assert value(text, "pkg_activation_failures_total") == 1
    assert value(text, "pkg_degraded_mode") == 1
    version = example("hotel_ops.yaml")["version"]
    assert value(text, "pkg_active_version", version=version) == 1


async def test_a_redis_restart_counts_a_reconnect(
    app_factory: Callable[..., Any], redis_server: Any, channel: str
) -> None:
    api = await app_factory(redis_url=redis_server.start().url, redis_channel=channel)
    await subscribed(api)
    before = value(await scrape(api), "pkg_redis_reconnect_count")

    await asyncio.to_thread(redis_server.stop)
    await asyncio.to_thread(redis_server.start)

    text = await scrape_until(api, lambda t: value(t, "pkg_redis_reconnect_count") > before)
    await subscribed(api)
    reconnects = value(text, "pkg_redis_reconnect_count")
    assert reconnects > before  # one per lost session (a slow restart may cost two)
    assert value(text, "pkg_redis_reconnect_count_total") == reconnects


async def test_events_during_a_request_carry_its_request_and_decision_ids(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    api = await app_factory(log_level="INFO")
    await api.post("/snapshots", json=wasm_document("kitchen@8.0.0", entrypoint="abort"))
    await api.post("/promotions", json={"version": "kitchen@8.0.0", "force": True})
    capsys.readouterr()

    decision = (await api.post("/evaluate", json={}, headers={"X-Request-ID": "trace-7"})).json()

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    failed = next(e for e in lines if e["event"] == "pkg_evaluation_failed")
    assert (failed["request_id"], failed["decision_id"]) == ("trace-7", decision["decision_id"])


async def test_a_promotion_while_redis_is_down_counts_a_publish_failure(
    app_factory: Callable[..., Any], redis_server: Any, channel: str
) -> None:
    api = await app_factory(redis_url=redis_server.start().url, redis_channel=channel)
    await subscribed(api)
    await asyncio.to_thread(redis_server.stop)
    try:
        await push_and_promote(api, example("hotel_ops.yaml"))  # the promotion still stands
        text = await scrape(api)
    finally:
        await asyncio.to_thread(redis_server.start)

    assert value(text, "pkg_publish_failures_total") == 1
    version = example("hotel_ops.yaml")["version"]
    assert value(text, "pkg_active_version", version=version) == 1
