"""An unreachable database is `StoreUnavailableError`, and the client recovers when it is back."""

from __future__ import annotations

import asyncio

import pytest

from app.adapters.db import PKGClient
from app.domain.errors import StoreUnavailableError
from tests.services.postgres import PostgresServer

pytestmark = pytest.mark.integration


async def test_a_missing_sqlite_folder_is_unavailable(tmp_path: object) -> None:
    client = PKGClient(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/pkg.db")
    try:
        with pytest.raises(StoreUnavailableError):
            await client.get_active_version("prod")
    finally:
        await client.close()


async def test_postgres_going_away_and_coming_back(
    postgres_server: PostgresServer, pg_url: str
) -> None:
    client = PKGClient(pg_url)
    try:
        await client.get_active_version("prod")  # a pooled connection exists
        postgres_server.stop()
        try:
            with pytest.raises(StoreUnavailableError) as caught:
                await client.get_active_version("prod")
            assert caught.value.__cause__ is not None
        finally:
            postgres_server.start()
        assert await client.list_snapshots(limit=1) is not None
    finally:
        await client.close()


async def test_a_cancelled_call_still_returns_its_connection(db_url: str) -> None:
    client = PKGClient(db_url)
    try:
        call = asyncio.ensure_future(client.list_snapshots())
        await asyncio.sleep(0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await client.list_snapshots() == []
    finally:
        await client.close()
    assert client.engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # Pool base lacks checkedout
