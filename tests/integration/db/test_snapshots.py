"""Snapshots through a real database: round trip, conflicts, deletion rules, tampering."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.adapters.db import PKGClient
from app.domain.document import Fixture, parse_policy_document
from app.domain.errors import ChecksumMismatchError, ConflictError, NotFoundError
from tests.integration.db.conftest import make_document

pytestmark = pytest.mark.integration

WASM_MODULE = b"\x00asm\x01\x00\x00\x00"


async def test_a_document_round_trips_with_the_same_checksum(client: PKGClient) -> None:
    document = make_document("rules@1.0.0")

    stored = await client.create_snapshot(document)
    loaded = await client.get_snapshot_by_version("rules@1.0.0")

    assert loaded is not None
    assert stored.checksum == loaded.checksum == document.checksum
    loaded.verify_checksum()
    assert loaded.content_checksum() == document.to_snapshot().content_checksum()
    assert [r["rule_name"] for r in loaded.rules] == ["high_priority_vip", "a_fallback"]
    assert [r["id"] for r in loaded.rules] == [r["id"] for r in document.rules]
    vip = loaded.rules[0]
    assert vip["metadata"] == {"owner": "ops", "labels": ["vip"]}
    assert [c["condition_type"] for c in vip["conditions"]] == ["TAG", "SIGNAL", "FACT"]
    assert vip["conditions"][1]["value"] == "0.7"  # TEXT, as stored
    assert len(vip["emissions"]) == 2  # no conditions x emissions product
    assert vip["emissions"][0]["name"] == "escalate_vip"
    assert vip["emissions"][1] == {
        "subtask_type": "notify",
        "name": "notify",
        "relationship_type": "ORDERS",
        "params": {},
        "position": 1,
    }
    assert loaded.subtask_types["notify"] == {
        "default_params": {"channel": "email", "nested": {"a": [1, 2]}}
    }
    assert loaded.env == "prod" and loaded.engine == "native" and loaded.wasm_artifact is None


async def test_fixtures_and_summaries_are_stored_with_the_snapshot(client: PKGClient) -> None:
    stored = await client.create_snapshot(make_document("rules@1.0.0"))

    fixtures = await client.get_validation_fixtures(stored.id)
    summary = await client.snapshots.get_summary("rules@1.0.0")
    listed = await client.list_snapshots(env="prod")

    assert [f["name"] for f in fixtures] == ["vip escalates"]
    assert fixtures[0]["input"]["signals"] == {"x2": 0.8}
    assert summary is not None and summary["rules_count"] == 2
    assert summary["is_active"] is False and summary["created_at"].tzinfo is not None
    assert [s["version"] for s in listed] == ["rules@1.0.0"]
    assert await client.list_snapshots(env="dev") == []


async def test_a_wasm_snapshot_keeps_its_artifact(client: PKGClient) -> None:
    raw: dict[str, Any] = {
        "version": "wasm@1",
        "engine": "wasm",
        "wasm": {"artifact": "AGFzbQEAAAA=", "entrypoint": "pkg/result"},
    }
    document = parse_policy_document(raw)

    stored = await client.create_snapshot(document)

    assert stored.wasm_artifact == WASM_MODULE and stored.entrypoint == "pkg/result"
    stored.verify_checksum()
    await client.promote("wasm@1", env="prod", actor="t", force=True)
    artifact = await client.get_active_artifact("prod")
    assert artifact is not None and artifact["size_bytes"] == len(WASM_MODULE)


async def test_a_duplicate_version_is_a_conflict(client: PKGClient) -> None:
    await client.create_snapshot(make_document("rules@1.0.0"))

    with pytest.raises(ConflictError):
        await client.create_snapshot(make_document("rules@1.0.0"))


async def test_a_duplicate_fixture_name_is_a_conflict(client: PKGClient) -> None:
    stored = await client.create_snapshot(make_document("rules@1.0.0"))
    await client.add_fixtures(stored.id, [Fixture("second", {"tags": []}, {"subtasks": []})])

    with pytest.raises(ConflictError):
        await client.add_fixtures(stored.id, [Fixture("second", {}, {})])
    assert len(await client.get_validation_fixtures(stored.id)) == 2


async def test_a_never_active_snapshot_can_be_deleted(client: PKGClient) -> None:
    await client.create_snapshot(make_document("rules@1.0.0"))

    await client.delete_snapshot("rules@1.0.0")

    assert await client.get_snapshot_by_version("rules@1.0.0") is None
    with pytest.raises(NotFoundError):
        await client.delete_snapshot("rules@1.0.0")


async def test_a_snapshot_once_active_cannot_be_deleted(client: PKGClient) -> None:
    for version in ("rules@1.0.0", "rules@2.0.0"):
        await client.create_snapshot(make_document(version))
        await client.promote(version, env="prod", actor="t", force=True)

    for version in ("rules@1.0.0", "rules@2.0.0"):  # was active, is active
        with pytest.raises(ConflictError):
            await client.delete_snapshot(version)
    assert len(await client.list_snapshots()) == 2


async def test_a_tampered_checksum_is_reported_and_refused(client: PKGClient) -> None:
    await client.create_snapshot(make_document("rules@1.0.0"))
    assert (await client.check_integrity()) == {"ok": True, "problems": []}

    async with client.engine.begin() as conn:
        await conn.execute(
            text("UPDATE pkg_snapshots SET checksum = :c WHERE version = 'rules@1.0.0'"),
            {"c": "0" * 64},
        )

    report = await client.check_integrity()
    loaded = await client.get_snapshot_by_version("rules@1.0.0")
    assert report["ok"] is False
    assert [p["problem"] for p in report["problems"]] == ["checksum_mismatch"]
    assert loaded is not None and loaded.checksum == "0" * 64  # served as stored
    with pytest.raises(ChecksumMismatchError):
        loaded.verify_checksum()


async def test_the_checksum_column_refuses_what_is_not_hex(client: PKGClient) -> None:
    await client.create_snapshot(make_document("rules@1.0.0"))

    with pytest.raises(IntegrityError):
        async with client.engine.begin() as conn:
            await conn.execute(text("UPDATE pkg_snapshots SET checksum = 'NOT-HEX'"))


async def test_heartbeats_upsert_and_resolve_versions(client: PKGClient) -> None:
    stored = await client.create_snapshot(make_document("rules@1.0.0"))

    await client.update_device_heartbeat("door:1", "door", version="rules@1.0.0", region="eu")
    await client.update_device_heartbeat("door:1", "door", snapshot_id=stored.id, region="us")

    devices = await client.get_device_versions(device_type="door")
    assert len(devices) == 1
    assert devices[0]["snapshot_id"] == stored.id and devices[0]["version"] == "rules@1.0.0"
    assert devices[0]["region"] == "us" and devices[0]["last_seen"].tzinfo is not None
