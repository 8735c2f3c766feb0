"""Replay through the API, on SQLite and PostgreSQL: the logged decisions decided again on a
candidate, against what was answered then; records whose masked paths the candidate reads are
unreplayable; replays are bounded (limit, max records, deadline) and resumable; admin only; a
promotion guard refuses a candidate that answers the log too differently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from app.domain.redaction import MASK
from tests.api.conftest import READ_AUTH, example, push_and_promote
from tests.api.test_decision_log import logged

V1, V2 = "hotel-ops@1.0.0", "hotel-ops@1.1.0"
VIP = {"tags": ["vip", "allergy_nuts"], "context": {"guest_name": "Ada Lovelace"}}
WAIT = {"signals": {"wait_minutes": 25}}  # 1.1.0 apologises after 20 minutes, 1.0.0 after 30
PLAIN = {"tags": ["accessibility"]}
LOGGED = {"decision_log": "database", "decision_log_mask": ["input.context.guest_name"]}


async def recorded(app_factory: Callable[..., Any], **overrides: Any) -> httpx.AsyncClient:
    """1.0.0 active and 1.1.0 stored; VIP, WAIT, PLAIN decided (in that order) and logged."""
    api: httpx.AsyncClient = await app_factory(**(LOGGED | overrides))
    await push_and_promote(api, example("hotel_ops.yaml"))
    assert (await api.post("/snapshots", json=example("hotel_ops_v2.yaml"))).status_code == 201
    for facts in (VIP, WAIT, PLAIN):
        assert (await api.post("/evaluate", json=facts)).status_code == 200
    await logged(api, 3)
    return api


async def replay(api: httpx.AsyncClient, candidate: str, /, **body: Any) -> httpx.Response:
    return await api.post(f"/snapshots/{candidate}/replay", json=body)


async def test_replay_reports_how_a_candidate_answers_the_logged_decisions_differently(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory)

    response = await replay(api, V2, since="1h")

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["records"], report["replayed"], report["unreplayable"]["count"]) == (3, 3, 0)
    totals = report["totals"]
    assert (totals["inputs"], totals["different"], totals["identical"]) == (3, 2, 1)
    assert (totals["subtasks_added"], totals["rules_added"], totals["rules_removed"]) == (2, 1, 0)
    assert report["divergence"] == 2 / 3
    assert report["rules"] == [
        {"rule": "long_wait_apology", "fired_more": 1, "fired_less": 0, "changed": 1}
    ]
    newest, older = report["items"]  # newest first: WAIT was decided after VIP
    assert newest["rules"]["added"] == ["long_wait_apology"]
    assert [s["name"] for s in newest["subtasks"]["added"]] == ["apology_voucher"]
    assert [s["name"] for s in older["subtasks"]["added"]] == ["notify_duty_manager"]
    assert (newest["answered_by"], older["answered_by"]) == (V1, V1)
    example_vip = report["examples"][1]
    assert example_vip["input"]["context"]["guest_name"] == MASK  # shown as the log kept it
    assert "notify_duty_manager" in example_vip["replayed"]["subtasks"]
    assert "notify_duty_manager" not in example_vip["recorded"]["subtasks"]
    assert "Ada" not in response.text
    assert (report["truncated"], report["next_cursor"]) == (False, None)


async def test_the_version_that_answered_agrees_with_its_own_log(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory)

    report = (await replay(api, V1)).json()

    assert (report["totals"]["identical"], report["totals"]["different"]) == (3, 0)
    assert report["divergence"] == 0 and report["items"] == [] and report["rules"] == []


async def test_records_can_be_chosen_by_the_version_that_answered_them_and_by_time(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory)
    assert (await api.post("/promotions", json={"version": V2, "force": True})).status_code == 201
    assert (await api.post("/evaluate", json=WAIT)).status_code == 200
    await logged(api, 4)

    by_v1 = (await replay(api, V2, version=V1)).json()
    by_v2 = (await replay(api, V2, version=V2)).json()
    future = (await replay(api, V2, since="2999-01-01T00:00:00Z")).json()
    past = (await replay(api, V2, until="2000-01-01")).json()

    assert (by_v1["records"], by_v1["totals"]["different"]) == (3, 2)
    assert (by_v2["records"], by_v2["totals"]["identical"]) == (1, 1)
    assert by_v2["answered_by"] == V2
    assert future["records"] == 0 and past["records"] == 0
    assert future["divergence"] is None


async def test_a_record_whose_masked_path_the_candidate_reads_is_unreplayable(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(
        app_factory,
        decision_log_mask=["input.context.guest_name", "input.signals.wait_minutes"],
    )
    records = (await api.get("/decisions")).json()["items"]
    assert [r["input"].get("signals") for r in records][1] == {"wait_minutes": MASK}

    report = (await replay(api, V2)).json()

    assert report["unreplayable"] == {"count": 1, "paths": {"input.signals.wait_minutes": 1}}
    assert (report["records"], report["replayed"]) == (3, 2)
    assert report["totals"]["different"] == 1  # VIP only: WAIT was never decided on MASK
    assert report["rules"] == []  # long_wait_apology did not "fire more" on a masked value


async def test_a_dropped_path_the_candidate_reads_is_unreplayable_too(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory, decision_log_drop=["input.tags"])

    report = (await replay(api, V2)).json()

    # TAG conditions read `tags`: VIP and PLAIN lost theirs; WAIT had none to drop
    assert report["unreplayable"] == {"count": 2, "paths": {"input.tags": 2}}
    assert report["replayed"] == 1 and report["totals"]["rules_added"] == 1


async def test_a_limit_truncates_and_the_cursor_goes_on_where_it_stopped(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory, replay_batch_size=1)

    first = (await replay(api, V2, limit=2)).json()
    rest = (await replay(api, V2, limit=2, cursor=first["next_cursor"])).json()

    assert (first["records"], first["truncated"], first["truncated_reason"]) == (2, True, "limit")
    assert (rest["records"], rest["truncated"], rest["next_cursor"]) == (1, False, None)
    assert rest["items"][0]["answered_by"] == V1
    seen = {i["decision_id"] for i in first["items"]} | {i["decision_id"] for i in rest["items"]}
    assert len(seen) == 2  # VIP and WAIT differ; each replayed once


async def test_a_replay_stops_at_the_servers_maximum_and_at_its_deadline(
    app_factory: Callable[..., Any],
) -> None:
    capped = await recorded(app_factory, replay_max_records=2)
    over = await replay(capped, V2, limit=3)
    at_max = (await replay(capped, V2)).json()

    assert over.status_code == 422, over.text
    assert over.headers["content-type"] == "application/problem+json"
    assert over.json()["errors"] == [{"loc": "limit", "msg": "at most 2 records per replay, got 3"}]
    assert (at_max["records"], at_max["truncated_reason"]) == (2, "max_records")

    # the same database, its log already written: a server with a deadline that always passes
    hurried = await app_factory(**LOGGED, replay_timeout_s=1e-9, replay_batch_size=1)
    partial = (await replay(hurried, V2)).json()

    assert (partial["records"], partial["truncated"]) == (1, True)
    assert partial["truncated_reason"] == "deadline" and partial["next_cursor"]


async def test_bad_windows_and_cursors_are_422s_naming_the_field(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory)
    for body, loc in [
        ({"since": "yesterday"}, "since"),
        ({"until": "soon"}, "until"),
        ({"since": "1h", "until": "2h"}, "until"),
        ({"cursor": "nope"}, "cursor"),
    ]:
        response = await replay(api, V2, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["loc"] == loc
    unknown = await replay(api, V2, limt=3)
    assert unknown.status_code == 422 and "limt" in unknown.text


async def test_replay_needs_the_admin_role_and_a_stored_log(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory)
    reader = await api.post(f"/snapshots/{V2}/replay", json={}, headers=READ_AUTH)
    missing = await replay(api, "hotel-ops@9.9.9")
    unlogged: httpx.AsyncClient = await app_factory()  # the same database, no log kept
    nothing = await unlogged.post(f"/snapshots/{V1}/replay")

    assert reader.status_code == 403
    assert missing.status_code == 404
    assert nothing.status_code == 404 and "PKG_DECISION_LOG=database" in nothing.text


async def test_a_replay_guard_refuses_a_candidate_that_answers_the_log_too_differently(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory)
    guard = {"max_replay_divergence": 0.01, "replay_since": "24h"}
    trail = (await api.get("/promotions")).json()

    refused = await api.post("/promotions", json={"version": V2, "guard": guard})

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    detail = refused.json()["detail"]
    assert "answers 2 of 3 logged decisions since 24h differently (66.67% > 1.00%)" in detail
    assert (await api.get("/promotions")).json() == trail
    assert (await api.get("/snapshots/active")).json()["version"] == V1

    forced = await api.post("/promotions", json={"version": V2, "guard": guard, "force": True})

    assert forced.status_code == 201, forced.text
    figures = forced.json()["metrics"]["replay"]
    assert (figures["records"], figures["different"], figures["passed"]) == (3, 2, False)


async def test_a_candidate_that_answers_the_log_alike_passes_its_replay_guard(
    app_factory: Callable[..., Any],
) -> None:
    api = await recorded(app_factory)
    copy = example("hotel_ops.yaml") | {"version": "hotel-ops@copy"}
    assert (await api.post("/snapshots", json=copy)).status_code == 201
    run = await api.post("/validation/runs", json={"version": "hotel-ops@copy"})
    assert run.json()["success"], run.text
    too_few = {"max_replay_divergence": 0, "min_replay_decisions": 4}
    refused = await api.post("/promotions", json={"version": "hotel-ops@copy", "guard": too_few})
    assert refused.status_code == 409 and "only 3 replayable" in refused.json()["detail"]

    promoted = await api.post(
        "/promotions", json={"version": "hotel-ops@copy", "guard": {"max_replay_divergence": 0}}
    )

    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["metrics"]["replay"]["passed"] is True
    assert promoted.json()["metrics"]["replay"]["divergence"] == 0


async def test_a_replay_guard_without_a_stored_log_is_refused_and_bad_ones_are_422s(
    api: httpx.AsyncClient,
) -> None:
    await push_and_promote(api, example("hotel_ops.yaml"))
    refused = await api.post(
        "/promotions", json={"version": V1, "guard": {"max_replay_divergence": 0.1}}
    )
    assert refused.status_code == 409 and "PKG_DECISION_LOG=database" in refused.text
    for guard in [
        {"replay_since": "24h"},
        {"max_replay_divergence": 0.1, "replay_since": "yesterday"},
        {"max_replay_divergence": 1.5},
    ]:
        response = await api.post("/promotions", json={"version": V1, "guard": guard})
        assert response.status_code == 422, (guard, response.text)
        assert response.json()["errors"][0]["loc"].startswith("guard")
