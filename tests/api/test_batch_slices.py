"""A batch decides in slices and yields to the event loop between them: a single request that
arrives while a batch is deciding is decided between the batch's decisions, batches take turns
(one decides at a time), and the answer is the same one JSON document as without slices.

Order, not time: the tests record the order in which decisions are made (`decide`, the one
function every decision of both paths passes through) and set the slice to zero, so the batch
yields after every decision."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.adapters.db.migrations import upgrade_to_head
from app.api import evaluation
from tests.api.conftest import example, push_and_promote

VOLATILE = re.compile(r'"(decision_id|duration_ms)":("[0-9a-f]{32}"|[0-9.e-]+)')


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: slicing happens above the store."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'pkg.db'}"
    asyncio.run(upgrade_to_head(url))
    return url


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The `who` of every decision's facts (context.who), in the order they were made."""
    order: list[str] = []
    real = evaluation.decide

    def recording(evaluator: Any, facts: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        order.append(facts.get("context", {}).get("who", "?"))
        return real(evaluator, facts, *args, **kwargs)

    monkeypatch.setattr(evaluation, "decide", recording)
    return order


def batch_of(who: str, count: int) -> dict[str, Any]:
    return {"items": [{"tags": ["vip"], "context": {"who": who}} for _ in range(count)]}


async def started(app_factory: Callable[..., Any], **overrides: Any) -> httpx.AsyncClient:
    api: httpx.AsyncClient = await app_factory(**overrides)
    await push_and_promote(api, example("hotel_ops.yaml"))
    return api


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The batch's first pause between slices lasts until the event is set (the pauses run
    the requests that arrived meanwhile: the test decides what arrives)."""
    pausing = asyncio.Event()
    release = asyncio.Event()
    real = evaluation.next_slice

    async def gate() -> None:
        if not release.is_set():
            pausing.set()
            await release.wait()
        await real()

    monkeypatch.setattr(evaluation, "next_slice", gate)
    monkeypatch.setattr(evaluation, "BATCH_SLICE_S", 0.0)  # a pause after every decision
    release.pausing = pausing  # type: ignore[attr-defined]  # the test waits on both
    return release


async def pause_of(release: asyncio.Event, batch: asyncio.Task[Any]) -> None:
    pausing: asyncio.Event = release.pausing  # type: ignore[attr-defined]
    done, _ = await asyncio.wait(
        [batch, asyncio.ensure_future(pausing.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    assert batch not in done, "the batch ended without pausing between slices"


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "fastapi"])
async def test_a_single_request_is_decided_between_the_slices_of_a_batch(
    app_factory: Callable[..., Any], decided: list[str], gated: asyncio.Event, lean: bool
) -> None:
    api = await started(app_factory, lean_evaluate=lean)
    batch = asyncio.create_task(api.post("/evaluate/batch", json=batch_of("batch", 100)))
    await pause_of(gated, batch)
    single = await api.post("/evaluate", json={"tags": ["vip"], "context": {"who": "single"}})
    gated.set()
    assert single.status_code == 200
    assert (await batch).status_code == 200
    assert len(decided) == 101
    position = decided.index("single")
    assert 0 < position < 100, "the single request waited for the whole batch"
    assert set(decided[:position]) == set(decided[position + 1 :]) == {"batch"}


async def test_without_slices_a_batch_never_pauses(
    app_factory: Callable[..., Any],
    decided: list[str],
    gated: asyncio.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The contrast: a batch whose slice outlasts it decides in one go."""
    api = await started(app_factory)
    monkeypatch.setattr(evaluation, "BATCH_SLICE_S", float("inf"))
    answer = await api.post("/evaluate/batch", json=batch_of("batch", 100))
    assert answer.status_code == 200
    assert not gated.pausing.is_set()  # type: ignore[attr-defined]
    assert decided == ["batch"] * 100


async def test_batches_take_turns_rather_than_interleave(
    app_factory: Callable[..., Any], decided: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = await started(app_factory)
    monkeypatch.setattr(evaluation, "BATCH_SLICE_S", 0.0)
    answers = await asyncio.gather(
        api.post("/evaluate/batch", json=batch_of("first", 30)),
        api.post("/evaluate/batch", json=batch_of("second", 30)),
    )
    assert [a.status_code for a in answers] == [200, 200]
    runs = [who for index, who in enumerate(decided) if index == 0 or decided[index - 1] != who]
    assert sorted(runs) == ["first", "second"]  # each batch decided in one run of turns


async def test_a_sliced_batch_answers_the_same_document(
    app_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = await started(app_factory)
    body = {
        "items": [
            {"tags": ["vip", "allergy_nuts"], "signals": {"urgency": 0.9}},
            {},
            {"tags": ["x"], "context": {"room": "3"}},
        ]
        * 20
    }
    monkeypatch.setattr(evaluation, "BATCH_SLICE_S", 0.0)
    sliced = await api.post("/evaluate/batch", json=body)
    monkeypatch.setattr(evaluation, "BATCH_SLICE_S", float("inf"))
    whole = await api.post("/evaluate/batch", json=body)
    assert sliced.status_code == whole.status_code == 200
    assert len(sliced.json()["items"]) == 60
    assert VOLATILE.sub("", sliced.text) == VOLATILE.sub("", whole.text)


async def test_a_bad_item_still_names_its_index_when_sliced(
    app_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = await started(app_factory)
    monkeypatch.setattr(evaluation, "BATCH_SLICE_S", 0.0)
    items: list[dict[str, Any]] = [{} for _ in range(10)]
    items[7] = {"signals": {"x": "not a number"}}
    answer = await api.post("/evaluate/batch", json={"items": items})
    assert answer.status_code == 422
    assert "items[7]" in answer.text or "items.7" in answer.text
