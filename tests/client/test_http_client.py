"""`PKGHttpClient` and `AsyncPKGHttpClient` against a real `pkgctl serve` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.client import AsyncPKGHttpClient, PKGConnectionError, PKGError, PKGHttpClient
from bench.server import ROOT, ServerProcess

EXAMPLES = ROOT / "examples"
ADMIN = "client-admin-token"
READER = "client-reader-token"
VIP_ALLERGY = {"tags": ["vip", "allergy_nuts"], "signals": {"urgency": 0.9}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess.embedded(
        tmp_path_factory.mktemp("client"),
        PKG_SEED_FILE=str(EXAMPLES / "hotel_ops.yaml"),
        PKG_ADMIN_TOKENS=ADMIN,
        PKG_EVALUATOR_TOKENS=READER,
    )
    process.start()
    yield process
    process.stop()


def document(version: str) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((EXAMPLES / "hotel_ops_v2.yaml").read_text())
    return {**raw, "version": version}


def test_the_sync_client_drives_the_whole_lifecycle(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=ADMIN) as pkg:
        assert pkg.push(document("hotel-ops@2.0.0"))["version"] == "hotel-ops@2.0.0"
        assert pkg.validate("hotel-ops@2.0.0")["success"] is True
        assert pkg.promote("hotel-ops@2.0.0", reason="client test")["to_version"] == (
            "hotel-ops@2.0.0"
        )
        decision = pkg.evaluate(VIP_ALLERGY, explain=True)
        assert decision["snapshot"] == "hotel-ops@2.0.0"
        assert "notify_duty_manager" in [s["name"] for s in decision["subtasks"]]
        assert decision["explain"]
        pinned = pkg.evaluate(VIP_ALLERGY, version="hotel-ops@1.0.0")
        assert (pinned["lane"], pinned["snapshot"]) == ("pinned", "hotel-ops@1.0.0")
        decisions = pkg.batch([VIP_ALLERGY, {"tags": []}])
        assert [len(d["subtasks"]) > 0 for d in decisions] == [True, False]
        assert pkg.rollback(reason="client test")["to_version"] == "hotel-ops@1.0.0"
        assert pkg.status()["metadata"]["version"] == "hotel-ops@1.0.0"


async def test_the_async_client_drives_the_whole_lifecycle(server: ServerProcess) -> None:
    async with AsyncPKGHttpClient(server.url, token=ADMIN) as pkg:
        await pkg.push(document("hotel-ops@3.0.0"))
        assert (await pkg.validate("hotel-ops@3.0.0"))["success"] is True
        await pkg.promote("hotel-ops@3.0.0", reason="async client test")
        assert (await pkg.evaluate(VIP_ALLERGY))["snapshot"] == "hotel-ops@3.0.0"
        assert len(await pkg.batch([VIP_ALLERGY] * 3)) == 3
        rolled = await pkg.rollback(to_version="hotel-ops@1.0.0", reason="async client test")
        assert rolled["to_version"] == "hotel-ops@1.0.0"
        assert (await pkg.status())["health"]["active_version"] == "hotel-ops@1.0.0"


def test_an_invalid_document_raises_with_the_fields(server: ServerProcess) -> None:
    bad = {
        "version": "bad@1",
        "rules": [{"name": "a", "conditions": [{"type": "TAG", "op": "LIKE"}]}],
    }
    with PKGHttpClient(server.url, token=ADMIN) as pkg, pytest.raises(PKGError) as caught:
        pkg.push(bad)
    assert caught.value.status == 422
    assert "rules[0].conditions[0].op" in [e["loc"] for e in caught.value.errors]


def test_an_evaluator_token_reads_but_cannot_write(server: ServerProcess) -> None:
    with PKGHttpClient(server.url, token=READER) as pkg:
        assert pkg.status()["metadata"]["version"].startswith("hotel-ops@")
        assert pkg.evaluate(VIP_ALLERGY)["rules"]
        with pytest.raises(PKGError) as caught:
            pkg.promote("hotel-ops@1.0.0")
    assert caught.value.status == 403


def test_an_unreachable_server_raises_a_connection_error(tmp_path: Path) -> None:
    with PKGHttpClient("http://127.0.0.1:9", timeout=2) as pkg, pytest.raises(PKGConnectionError):
        pkg.health()
