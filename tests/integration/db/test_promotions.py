"""Promotions and rollbacks: one transaction, serialized, audited, refused when they must be."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from app.adapters.db import PKGClient
from app.domain.errors import ConflictError, NotFoundError, PromotionRefusedError
from tests.integration.db.conftest import make_document

pytestmark = pytest.mark.integration


async def _state(client: PKGClient) -> tuple[str | None, list[int]]:
    return await client.get_active_version("prod"), [p["id"] for p in await client.get_promotions()]


async def test_concurrent_promotions_leave_one_active_and_a_consistent_chain(
    client: PKGClient,
) -> None:
    versions = [f"rules@{i}.0.0" for i in range(10)]
    for version in versions:
        await client.create_snapshot(make_document(version))

    results = await asyncio.gather(
        *(client.promote(v, env="prod", actor=f"a{i}", force=True) for i, v in enumerate(versions))
    )

    listed = await client.list_snapshots(env="prod")
    assert sum(s["is_active"] for s in listed) == 1
    chain = sorted(await client.get_promotions(env="prod"), key=lambda p: p["id"])
    assert len(chain) == 10 == len(results)
    assert chain[0]["from_version"] is None
    for before, after in itertools.pairwise(chain):
        assert after["from_version"] == before["to_version"]
    assert await client.get_active_version("prod") == chain[-1]["to_version"]
    assert all(p["metrics"]["forced"] is True for p in chain)


async def test_a_promotion_needs_a_passed_validation_unless_forced(client: PKGClient) -> None:
    stored = await client.create_snapshot(make_document("rules@1.0.0"))

    with pytest.raises(PromotionRefusedError, match="never validated"):
        await client.promote("rules@1.0.0", env="prod", actor="t")
    run_id = await client.create_validation_run(stored.id)
    await client.finish_validation_run(run_id, False, {"passed": 0, "failed": 1})
    with pytest.raises(PromotionRefusedError, match="validation"):
        await client.promote("rules@1.0.0", env="prod", actor="t")
    assert await _state(client) == (None, [])

    run_id = await client.create_validation_run(stored.id)
    await client.finish_validation_run(run_id, True, {"passed": 1, "failed": 0})
    promotion = await client.promote("rules@1.0.0", env="prod", actor="ci", reason="green")

    assert promotion["to_version"] == "rules@1.0.0" and promotion["from_version"] is None
    assert promotion["action"] == "promote" and promotion["actor"] == "ci"
    assert promotion["metrics"] == {"forced": False, "validation_run_id": run_id}
    assert promotion["created_at"].tzinfo is not None
    run = await client.get_validation_run(run_id)
    assert run is not None and run["success"] is True and run["version"] == "rules@1.0.0"


async def test_unknown_version_or_wrong_env_changes_nothing(client: PKGClient) -> None:
    await client.create_snapshot(make_document("rules@1.0.0"))
    await client.promote("rules@1.0.0", env="prod", actor="t", force=True)
    await client.create_snapshot(make_document("staging@1", env="staging"))
    before = await _state(client)

    with pytest.raises(NotFoundError):
        await client.promote("rules@9.9.9", env="prod", actor="t", force=True)
    with pytest.raises(PromotionRefusedError, match="staging"):
        await client.promote("staging@1", env="prod", actor="t", force=True)
    with pytest.raises(ConflictError, match="already active"):
        await client.promote("rules@1.0.0", env="prod", actor="t", force=True)

    assert await _state(client) == before
    assert await client.get_active_version("staging") is None


async def test_rollbacks_walk_the_promotion_history_back_and_are_audited(
    client: PKGClient,
) -> None:
    # issue 16 item 7: promote v1, v2, v3; rollback → v2; rollback → v1 (not back to v3)
    with pytest.raises(PromotionRefusedError, match="nothing to roll back"):
        await client.rollback(env="prod", actor="t")
    for version in ("v1", "v2", "v3"):
        await client.create_snapshot(make_document(version))
        await client.promote(version, env="prod", actor="t", force=True)

    rolled = await client.rollback(env="prod", actor="oncall", reason="p95 up")
    assert (rolled["from_version"], rolled["to_version"]) == ("v3", "v2")
    assert rolled["action"] == "rollback" and rolled["reason"] == "p95 up"
    again = await client.rollback(env="prod", actor="oncall")
    assert (again["from_version"], again["to_version"]) == ("v2", "v1")
    assert await client.get_active_version("prod") == "v1"
    before = await _state(client)
    with pytest.raises(PromotionRefusedError, match="no predecessor"):
        await client.rollback(env="prod", actor="oncall")
    assert await _state(client) == before  # a refused rollback changes and audits nothing
    trail = await client.get_promotions(env="prod")
    assert [(p["action"], p["to_version"]) for p in trail] == [
        ("rollback", "v1"),
        ("rollback", "v2"),
        ("promote", "v3"),
        ("promote", "v2"),
        ("promote", "v1"),
    ]
    assert [p["metrics"].get("undoes") for p in trail[:2]] == [trail[3]["id"], trail[2]["id"]]


async def test_a_rollback_after_a_new_promotion_undoes_that_promotion(client: PKGClient) -> None:
    for version in ("v1", "v2", "v3"):
        await client.create_snapshot(make_document(version))
    for version in ("v1", "v2"):
        await client.promote(version, env="prod", actor="t", force=True)
    await client.rollback(env="prod", actor="t")  # → v1
    await client.promote("v3", env="prod", actor="t", force=True)  # v1 → v3

    assert (await client.rollback(env="prod", actor="t"))["to_version"] == "v1"
    with pytest.raises(PromotionRefusedError, match="no predecessor"):
        await client.rollback(env="prod", actor="t")  # v1's own promotion had no predecessor


async def test_rollback_to_a_named_version(client: PKGClient) -> None:
    for version in ("rules@1.0.0", "rules@2.0.0", "rules@3.0.0"):
        await client.create_snapshot(make_document(version))
        await client.promote(version, env="prod", actor="t", force=True)

    rolled = await client.rollback(env="prod", actor="t", to_version="rules@1.0.0")

    assert rolled["from_version"] == "rules@3.0.0"
    active = await client.get_active_snapshot()
    assert active is not None and active.version == "rules@1.0.0"
    with pytest.raises(NotFoundError):
        await client.rollback(env="prod", actor="t", to_version="rules@0.0.1")


async def test_seed_create_promotion_writes_a_bare_audit_row(client: PKGClient) -> None:
    stored = await client.create_snapshot(make_document("rules@1.0.0"))

    promotion_id = await client.create_promotion(stored.id, "seed", metrics={"p95_ms": 1.5})

    rows = await client.get_promotions(snapshot_id=stored.id)
    assert [r["id"] for r in rows] == [promotion_id]
    assert rows[0]["metrics"] == {"p95_ms": 1.5} and rows[0]["env"] == "prod"
    assert await client.get_active_version("prod") is None
