"""Guarded promotion: refused on shadow divergence unless forced (audited), and rolled back by
the service itself when the new version answers errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.services.guard import GuardWatch
from tests.api.conftest import example, push_and_promote
from tests.api.test_shadow_lanes import VIP_ALLERGY, decide_all, open_lane, settled
from tests.api.test_wasm_policy import wasm_document
from tests.polling import eventually

QUICK = {"shadow_flush_interval_s": 0.05, "guard_interval_s": 0.05}
DIVERGENCE_GUARD = {"max_divergence": 0.02, "min_shadow_decisions": 20}


def guard_rounds(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per round any `GuardWatch` completes from now on (it keeps no count itself)."""
    completed: list[None] = []
    tick = GuardWatch.tick

    async def counted(self: GuardWatch) -> None:
        await tick(self)
        completed.append(None)

    monkeypatch.setattr(GuardWatch, "tick", counted)
    return completed


async def shadowed(app_factory: Callable[..., Any], candidate: dict[str, Any]) -> httpx.AsyncClient:
    """hotel-ops@1.0.0 active, `candidate` validated and shadowed on 40 requests."""
    api: httpx.AsyncClient = await app_factory(**QUICK)
    await push_and_promote(api, example("hotel_ops.yaml"))
    assert (await api.post("/snapshots", json=candidate)).status_code == 201
    run = await api.post("/validation/runs", json={"version": candidate["version"]})
    assert run.json()["success"], run.text
    lane_id = await open_lane(api, candidate["version"], 100)
    await decide_all(api, 40, subject=lambda i: f"guest-{i}")
    await settled(api, lane_id)
    return api


async def test_a_candidate_that_diverged_too_much_is_refused_and_nothing_changes(
    app_factory: Callable[..., Any],
) -> None:
    api = await shadowed(app_factory, example("hotel_ops_v2.yaml"))
    trail = (await api.get("/promotions")).json()

    refused = await api.post(
        "/promotions", json={"version": "hotel-ops@1.1.0", "guard": DIVERGENCE_GUARD}
    )

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "diverged on 100.00% of 40 shadow decisions" in refused.json()["detail"]
    assert (await api.get("/promotions")).json() == trail
    assert (await api.get("/snapshots/active")).json()["version"] == "hotel-ops@1.0.0"


async def test_force_promotes_anyway_and_the_audit_row_says_so_with_the_figures(
    app_factory: Callable[..., Any],
) -> None:
    api = await shadowed(app_factory, example("hotel_ops_v2.yaml"))

    forced = await api.post(
        "/promotions",
        json={"version": "hotel-ops@1.1.0", "guard": DIVERGENCE_GUARD, "force": True},
    )

    assert forced.status_code == 201, forced.text
    audit = (await api.get("/promotions")).json()[0]
    assert audit["to_version"] == "hotel-ops@1.1.0" and audit["metrics"]["forced"] is True
    assert audit["metrics"]["guard"] == DIVERGENCE_GUARD
    shadow = audit["metrics"]["shadow"]
    assert (shadow["evaluated"], shadow["different"], shadow["passed"]) == (40, 40, False)
    assert (await api.get("/snapshots/active")).json()["version"] == "hotel-ops@1.1.0"


async def test_a_candidate_that_agreed_passes_its_guard(app_factory: Callable[..., Any]) -> None:
    api = await shadowed(app_factory, example("hotel_ops.yaml") | {"version": "hotel-ops@copy"})
    too_few = await api.post(
        "/promotions",
        json={
            "version": "hotel-ops@copy",
            "guard": {"max_divergence": 0, "min_shadow_decisions": 41},
        },
    )
    assert too_few.status_code == 409 and "only 40 shadow decisions" in too_few.json()["detail"]

    promoted = await api.post(
        "/promotions", json={"version": "hotel-ops@copy", "guard": DIVERGENCE_GUARD}
    )

    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["metrics"]["shadow"]["passed"] is True
    assert promoted.json()["metrics"]["forced"] is False


async def test_an_incomplete_guard_is_a_422_naming_it(api: httpx.AsyncClient) -> None:
    await push_and_promote(api, example("hotel_ops.yaml"))
    for guard, fragment in [
        ({}, "max_divergence"),
        ({"watch_s": 60}, "max_error_rate"),
        ({"max_divergence": 2}, "max_divergence"),
        ({"max_divergence": 0.1, "typo": 1}, "typo"),
    ]:
        response = await api.post(
            "/promotions", json={"version": "hotel-ops@1.0.0", "guard": guard}
        )
        assert response.status_code == 422, (guard, response.text)
        assert fragment in response.text
        assert response.json()["errors"][0]["loc"].startswith("guard")


async def test_a_watched_promotion_that_answers_errors_is_rolled_back_once_by_the_service(
    app_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds = guard_rounds(monkeypatch)
    api = await app_factory(**QUICK)
    await push_and_promote(api, example("hotel_ops.yaml"))
    await api.post("/snapshots", json=wasm_document("broken@1", entrypoint="abort"))
    guard = {"watch_s": 300, "max_error_rate": 0.01, "min_decisions": 5}

    promoted = await api.post(
        "/promotions", json={"version": "broken@1", "force": True, "guard": guard}
    )
    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["guard"]["status"] == "watching"
    promotion_id = promoted.json()["id"]

    async def answered_by_v1() -> None:
        while True:
            response = await api.post("/evaluate", json=VIP_ALLERGY)
            assert response.status_code == 200  # answering all along, errors or not
            if response.json()["snapshot"] == "hotel-ops@1.0.0":
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(answered_by_v1(), 30)
    # the round that rolled back may still be finishing: three more completed rounds include
    # at least two that began after it, and none of them may roll back again
    seen = len(rounds)
    await eventually(lambda: len(rounds) >= seen + 3, within=30)

    trail = (await api.get("/promotions")).json()
    rollbacks = [row for row in trail if row["action"] == "rollback"]
    assert len(rollbacks) == 1
    (rollback,) = rollbacks
    assert rollback["actor"] == "pkg-guard" and rollback["to_version"] == "hotel-ops@1.0.0"
    assert rollback["from_version"] == "broken@1"
    figures = rollback["metrics"]
    assert figures["guard_promotion_id"] == promotion_id
    assert figures["errors"] == figures["decisions"] >= 5 and figures["error_rate"] == 1.0
    state = (await api.get(f"/promotions/{promotion_id}/guard")).json()
    assert state["status"] == "rolled_back" and state["outcome"]["errors"] == figures["errors"]
