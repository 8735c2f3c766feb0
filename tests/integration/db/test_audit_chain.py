"""The audit chain on real databases: honest histories verify; an UPDATE, a DELETE and an
INSERT done in SQL behind the service's back are named; migration 0003 chains existing rows
and keeps existing checksums verifying."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.adapters.db import PKGClient
from app.adapters.db.migrations import alembic_config, upgrade_to_head
from app.domain.snapshot import CHECKSUM_SCHEME, CHECKSUM_SCHEME_LEGACY, native_checksum
from app.domain.trust import ChainBreak, verify_chain
from tests.integration.db.conftest import BASE_DOCUMENT, make_document

pytestmark = pytest.mark.integration
VERSIONS = ("chain@1", "chain@2", "chain@3", "chain@4")


async def _verify(client: PKGClient) -> tuple[int, ChainBreak | None]:
    rows = await client.get_audit_chain("prod")
    return verify_chain(rows, active_version=await client.get_active_version("prod"))


async def _sql(url: str, statement: str, **params: Any) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement), params)
    finally:
        await engine.dispose()


@pytest.fixture
async def history(client: PKGClient) -> list[dict[str, Any]]:
    """Four promotions and a rollback, written by the service."""
    for version in VERSIONS:
        await client.create_snapshot(make_document(version))
        await client.promote(version, env="prod", actor="alice", force=True, on_behalf_of="bob")
    await client.rollback(env="prod", actor="ci", reason="regression")
    rows = await client.get_audit_chain("prod")
    assert len(rows) == 5
    return rows


async def test_an_honest_history_verifies(client: PKGClient, history: list[Any]) -> None:
    assert await _verify(client) == (5, None)
    assert [row["chain_seq"] for row in history] == [1, 2, 3, 4, 5]
    assert history[0]["on_behalf_of"] == "bob"


async def test_an_update_in_sql_names_the_row(
    client: PKGClient, db_url: str, history: list[Any]
) -> None:
    target = history[2]["id"]
    await _sql(db_url, "UPDATE pkg_promotions SET actor = 'mallory' WHERE id = :id", id=target)

    _count, found = await _verify(client)

    assert found is not None and (found.row_id, found.problem) == (target, "altered")


async def test_a_delete_in_sql_names_the_row_after_the_gap(
    client: PKGClient, db_url: str, history: list[Any]
) -> None:
    await _sql(db_url, "DELETE FROM pkg_promotions WHERE id = :id", id=history[1]["id"])

    _count, found = await _verify(client)

    assert found is not None and (found.row_id, found.problem) == (history[2]["id"], "removed")


async def test_an_insert_in_sql_names_the_row(
    client: PKGClient, db_url: str, history: list[Any]
) -> None:
    last = history[-1]
    await _sql(
        db_url,
        "INSERT INTO pkg_promotions (snapshot_id, env, from_version, to_version, actor, action,"
        " success, created_at) VALUES (:snapshot_id, 'prod', :from_version, :to_version,"
        " 'mallory', 'promote', true, CURRENT_TIMESTAMP)",
        snapshot_id=last["snapshot_id"],
        from_version=last["to_version"],
        to_version=last["to_version"],
    )
    inserted = (await client.get_audit_chain("prod"))[-1]["id"]

    _count, found = await _verify(client)

    assert found is not None and (found.row_id, found.problem) == (inserted, "inserted")


async def test_later_promotions_extend_the_chain(client: PKGClient, history: list[Any]) -> None:
    await client.promote("chain@4", env="prod", actor="alice", force=True)
    assert await _verify(client) == (6, None)


async def test_migration_0003_chains_existing_rows_and_keeps_old_checksums(db_url: str) -> None:
    raw = dict(BASE_DOCUMENT)
    raw["subtask_types"] = {**raw["subtask_types"], "escalate": {"default_params": {"w": 1.0}}}
    client = PKGClient(db_url)
    try:
        for version in ("old@1", "old@2"):
            await client.create_snapshot(make_document(version, subtask_types=raw["subtask_types"]))
            await client.promote(version, env="prod", actor="alice", force=True)
        stored = await client.get_snapshot_by_version("old@1")
        assert stored is not None and stored.checksum_scheme == CHECKSUM_SCHEME
        legacy = native_checksum(stored.rules, stored.subtask_types, scheme=CHECKSUM_SCHEME_LEGACY)
        assert legacy != stored.checksum
    finally:
        await client.close()

    # back to the schema before 0003, holding what the service wrote then: legacy checksums
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0001")
    await _sql(db_url, "UPDATE pkg_snapshots SET checksum = :c WHERE version = 'old@1'", c=legacy)
    await upgrade_to_head(db_url)

    client = PKGClient(db_url)
    try:
        old = await client.get_snapshot_by_version("old@1")
        assert old is not None and old.checksum_scheme == CHECKSUM_SCHEME_LEGACY
        old.verify_checksum()
        assert await _verify(client) == (2, None)
        await client.promote("old@1", env="prod", actor="alice", force=True)
        assert await _verify(client) == (3, None)
    finally:
        await client.close()
