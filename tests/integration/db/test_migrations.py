"""The Alembic history goes down to nothing and up again, on both databases."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.adapters.db import PKGClient
from app.adapters.db.migrations import downgrade_to_base, upgrade_to_head
from app.adapters.db.tables import metadata
from bench.server import ROOT
from tests.integration.db.conftest import make_document
from tests.services.postgres import PostgresServer

pytestmark = pytest.mark.integration
MODEL_TABLES = set(metadata.tables)  # the migrations create exactly what the models query


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names: list[str] = await conn.run_sync(lambda c: inspect(c).get_table_names())
            return {n for n in names if n.startswith("pkg_")}
    finally:
        await engine.dispose()


async def test_downgrade_to_base_then_upgrade_again(db_url: str) -> None:
    client = PKGClient(db_url)
    try:
        await client.create_snapshot(make_document("rules@1.0.0"))
    finally:
        await client.close()
    assert await _tables(db_url) == MODEL_TABLES

    await downgrade_to_base(db_url)
    assert await _tables(db_url) == set()
    await upgrade_to_head(db_url)
    await upgrade_to_head(db_url)  # idempotent at head

    client = PKGClient(db_url)
    try:
        assert await _tables(db_url) == MODEL_TABLES
        assert await client.list_snapshots() == []
        await client.create_snapshot(make_document("rules@1.0.0"))
    finally:
        await client.close()


async def test_upgrade_creates_the_sqlite_folder(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/nested/deeper/pkg.db"

    await upgrade_to_head(url)

    assert await _tables(url) == MODEL_TABLES


async def test_concurrent_migrate_processes_on_postgres_serialize(
    postgres_server: PostgresServer,
) -> None:
    """Every Kubernetes pod runs `pkgctl migrate` in its init container: three at once on an
    empty database all succeed, one doing the work and the others finding the schema at head.
    (Processes, as in a cluster: Alembic's `op` proxy is process-global.)"""
    name = f"pkg_concurrent_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(name)
    url = postgres_server.url(name)
    env = {**os.environ, "PKG_DATABASE_URL": url, "PKG_LOG_LEVEL": "WARNING"}
    try:
        command = (sys.executable, "-m", "app.entrypoints.cli", "migrate")
        pipe, merged = asyncio.subprocess.PIPE, asyncio.subprocess.STDOUT
        processes = [
            await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, env=env, stdout=pipe, stderr=merged
            )
            for _ in range(3)
        ]
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in processes)), timeout=120
        )
        assert [p.returncode for p in processes] == [0, 0, 0], outputs
        assert await _tables(url) == MODEL_TABLES
    finally:
        postgres_server.drop_database(name)
