"""Issue 16, HTTP side: versions any header can carry, admin routes off loopback without
tokens, and rollbacks that walk back. Each test sends the issue's input and checks that a
refusal stores nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.api.routes.snapshots import snapshot_location
from bench.server import ROOT, free_port
from tests.api.conftest import example, push_and_promote
from tests.api.test_errors import assert_problem

NON_LOOPBACK_CLIENT = ("192.0.2.7", 50000)  # TEST-NET-1: an address that is not loopback


def versioned(version: str) -> dict[str, Any]:
    return {**example("hotel_ops.yaml"), "version": version}


@pytest.mark.parametrize(
    ("version", "location"),
    [
        ("日本語@1", "/snapshots/%E6%97%A5%E6%9C%AC%E8%AA%9E@1"),
        ("emoji-😀@1", "/snapshots/emoji-%F0%9F%98%80@1"),
    ],
)
async def test_a_non_ascii_version_is_created_with_a_percent_encoded_location(
    api: httpx.AsyncClient, version: str, location: str
) -> None:
    created = await api.post("/snapshots", json=versioned(version))

    assert created.status_code == 201, created.text
    assert created.headers["location"] == location == snapshot_location(version)
    assert created.json()["version"] == version
    read = await api.get(location)
    assert read.status_code == 200 and read.json()["version"] == version
    assert (await api.delete(location)).status_code == 204
    assert_problem(await api.get(location), 404)
    assert (await api.get("/snapshots")).json() == []


async def test_with_no_tokens_a_non_loopback_client_gets_403_and_stores_nothing(
    app_factory: Any,
) -> None:
    # issue 16 item 5: no tokens configured, a client that is not on loopback posts a snapshot
    remote = await app_factory(admin_tokens=[], evaluator_tokens=[], client=NON_LOOPBACK_CLIENT)
    refused = await remote.post("/snapshots", json=versioned("rules@1"), headers={})

    body = assert_problem(refused, 403)
    assert "no tokens are configured" in body["detail"]
    assert_problem(await remote.get("/snapshots", headers={}), 403)
    assert (await remote.get("/health", headers={})).status_code == 200  # probes stay open
    local = await app_factory(admin_tokens=[], evaluator_tokens=[])
    assert (await local.get("/snapshots", headers={})).json() == []
    created = await local.post("/snapshots", json=versioned("rules@1"), headers={})
    assert created.status_code == 201, created.text


async def test_with_tokens_a_non_loopback_client_with_a_token_is_served(app_factory: Any) -> None:
    remote = await app_factory(client=NON_LOOPBACK_CLIENT)
    assert (await remote.post("/snapshots", json=versioned("rules@1"))).status_code == 201


def outward_address() -> str:
    """This machine's address on its default route (no packet is sent: UDP connect only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.1", 9))
        address: str = sock.getsockname()[0]
    assert not address.startswith("127."), "the test needs a non-loopback interface"
    return address


def test_uvicorn_on_all_interfaces_without_tokens_refuses_non_loopback_clients(
    tmp_path: Path,
) -> None:
    # the other start path (`pkgctl serve` refuses to bind: tests/cli/test_pkgctl.py)
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PKG_ADMIN_TOKENS", "PKG_EVALUATOR_TOKENS")
    }
    env |= {
        "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pkg.db'}",
        "PKG_SNAPSHOT_CACHE_DIR": str(tmp_path / "cache"),
        "PKG_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "0.0.0.0"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        local = f"http://127.0.0.1:{port}"
        _wait_ready(server, local)
        remote = f"http://{outward_address()}:{port}"
        refused = httpx.post(f"{remote}/snapshots", json=versioned("rules@1"), timeout=10)
        assert_problem(refused, 403)
        assert httpx.get(f"{local}/snapshots", timeout=10).json() == []
        created = httpx.post(f"{local}/snapshots", json=versioned("rules@1"), timeout=10)
        assert created.status_code == 201, created.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_ready(server: subprocess.Popen[bytes], url: str) -> None:
    for _ in range(600):
        assert server.poll() is None, f"uvicorn exited with {server.returncode}"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("uvicorn did not answer /health")


async def test_two_rollbacks_after_three_promotions_serve_the_first(
    api: httpx.AsyncClient,
) -> None:
    # issue 16 item 7 over HTTP: promote v1, v2, v3; rollback → v2; rollback → v1
    for version in ("v1", "v2", "v3"):
        await push_and_promote(api, versioned(version))
    first = await api.post("/promotions/rollback", json={"reason": "incident"})
    assert first.status_code == 201 and first.json()["to_version"] == "v2", first.text
    second = await api.post("/promotions/rollback", json={})
    assert second.status_code == 201 and second.json()["to_version"] == "v1", second.text
    assert (await api.post("/evaluate", json={})).json()["snapshot"] == "v1"
    refused = await api.post("/promotions/rollback", json={})
    assert_problem(refused, 409)
    trail = (await api.get("/promotions")).json()
    assert [p["action"] for p in trail] == ["rollback", "rollback", "promote", "promote", "promote"]


async def test_a_failed_read_back_after_the_commit_still_answers_201(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a response failure must not follow a commit the client never hears about (its retry
    # would get 409): the database going away between the commit and the read-back is logged
    from app.adapters.db.client import PKGClient
    from app.domain.errors import StoreUnavailableError

    async def unavailable(self: PKGClient, version: str) -> None:
        raise StoreUnavailableError("database went away")

    monkeypatch.setattr(PKGClient, "get_snapshot_summary", unavailable)
    created = await api.post("/snapshots", json=versioned("rules@1"))

    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/snapshots/rules@1"
    assert created.json()["version"] == "rules@1" and created.json()["is_active"] is False
    monkeypatch.undo()
    assert [s["version"] for s in (await api.get("/snapshots")).json()] == ["rules@1"]


async def test_validating_a_snapshot_that_cannot_load_stores_no_validation_run(
    api: httpx.AsyncClient, db_url: str
) -> None:
    """The sandbox evaluator is built before the run is written: a refusal leaves no run."""
    created = await api.post("/snapshots", json=versioned("tampered@1"))
    assert created.status_code == 201
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE pkg_snapshots SET checksum = :c WHERE version = 'tampered@1'"),
                {"c": "0" * 64},
            )
    finally:
        await engine.dispose()

    refused = await api.post("/validation/runs", json={"version": "tampered@1"})

    assert refused.status_code == 409, refused.text
    assert_problem(refused, 409)
    runs = await api.get("/validation/runs", params={"version": "tampered@1"})
    assert runs.status_code == 200 and runs.json() == []
