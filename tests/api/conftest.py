"""API tests: httpx over ASGITransport against the app with its lifespan running, on SQLite and
on the real PostgreSQL (the `db_url` fixture of tests/services/postgres.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ADMIN = "admin-token-for-tests"
READER = "reader-token-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
READ_AUTH = {"Authorization": f"Bearer {READER}"}


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return document


def make_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "snapshot_cache_dir": tmp_path / "cache",
        "admin_tokens": [ADMIN],
        "evaluator_tokens": [READER],
        "reconcile_interval_s": 3600,
        "heartbeat_interval_s": 3600,
        "log_level": "WARNING",
        "instance_id": "api-test",
        "max_body_bytes": 256 * 1024,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def app_factory(db_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start an app (lifespan included) with settings overrides; stops them all at the end."""
    started: list[tuple[FastAPI, Any]] = []

    async def start(
        *, client: tuple[str, int] = ("127.0.0.1", 123), **overrides: Any
    ) -> httpx.AsyncClient:
        """`client` is the peer address the app sees (loopback unless a test says otherwise)."""
        app = create_app(make_settings(db_url, tmp_path, **overrides))
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        started.append((app, context))
        transport = httpx.ASGITransport(app=app, client=client)
        return httpx.AsyncClient(transport=transport, base_url="http://pkg.test", headers=AUTH)

    yield start
    for _app, context in reversed(started):
        await context.__aexit__(None, None, None)


@pytest.fixture
async def api(app_factory: Callable[..., Any]) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await app_factory()
    return client


async def push_and_promote(
    api: httpx.AsyncClient, document: dict[str, Any], *, validate: bool = True
) -> None:
    response = await api.post("/snapshots", json=document)
    assert response.status_code == 201, response.text
    if validate:
        run = await api.post("/validation/runs", json={"version": document["version"]})
        assert run.status_code == 201 and run.json()["success"], run.text
    promoted = await api.post(
        "/promotions", json={"version": document["version"], "force": not validate}
    )
    assert promoted.status_code == 201, promoted.text
