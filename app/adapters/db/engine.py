"""Async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), and the error boundary.

SQLite is driven the way its documentation asks for: the driver's own transaction handling is
switched off and SQLAlchemy emits `BEGIN` itself, so a write transaction can start with
`BEGIN IMMEDIATE` (it takes the write lock up front instead of failing to upgrade a read lock
halfway through, which is what made concurrent read-then-write transactions deadlock).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from app.domain.errors import StoreUnavailableError

SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
WRITE_OPTION: Final = "pkg_write"


def dumps_json(value: Any) -> str:
    """JSON columns through orjson (several times faster than `json.dumps`: the decision log
    writes thousands of rows a second); what orjson refuses (an integer beyond 64 bits) goes
    through the standard library as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, timeout_s: float = 5.0) -> AsyncEngine:
    """One engine per database URL; the caller disposes it."""
    if is_sqlite(url):
        return _sqlite_engine(url)
    return create_async_engine(
        url,
        json_serializer=dumps_json,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout_s,
        connect_args={"timeout": timeout_s, "command_timeout": max(timeout_s * 6, 30.0)},
    )


def _sqlite_engine(url: str) -> AsyncEngine:
    in_memory = ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:")
    # an in-memory database exists once per connection: share one; a file gets a small pool
    kwargs: dict[str, Any] = (
        {"poolclass": StaticPool} if in_memory else {"pool_size": 5, "max_overflow": 15}
    )
    engine = create_async_engine(url, json_serializer=dumps_json, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_unavailable(exc: BaseException) -> bool:
    """Is this the database being unreachable (as opposed to a bad statement)?"""
    if isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only unit of work (one transaction, rolled back at the end)."""
    try:
        async with engine.connect() as conn:
            yield conn
    except Exception as exc:
        if is_unavailable(exc):
            raise StoreUnavailableError(f"database unavailable: {exc}") from exc
        raise


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction: committed when the block succeeds, rolled back otherwise.

    On SQLite it starts with `BEGIN IMMEDIATE`, so writers queue on the database lock."""
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                yield conn
    except Exception as exc:
        if is_unavailable(exc):
            raise StoreUnavailableError(f"database unavailable: {exc}") from exc
        raise
