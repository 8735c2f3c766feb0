"""With verify keys, the manager refuses unsigned or wrongly signed snapshots however they
arrive (start-up, a change message, reconcile, a pinned version, the last-known-good cache)
and keeps serving the previous one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.adapters.snapshot_cache import FileSnapshotCache
from app.domain.change import ACTIVATE, ChangeMessage
from app.domain.errors import SignatureError
from app.services.signing import Signer, Verifier
from tests.polling import eventually
from tests.unit.manager.test_manager import FakeStore, manager_for, served

TRUSTED = Signer(Ed25519PrivateKey.generate())
STRANGER = Signer(Ed25519PrivateKey.generate())
VERIFIER = Verifier([TRUSTED.public_key])


def sign(store: FakeStore, version: str, signer: Signer = TRUSTED) -> None:
    snapshot = store.snapshots[version]
    key_id, value = signer.sign_snapshot(snapshot)
    store.snapshots[version] = dataclasses.replace(snapshot, signature=value, signing_key_id=key_id)


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    for version in ("v1", "v2", "v3"):
        store.add(version, active=version == "v1")
    sign(store, "v1")
    return store


async def test_every_path_to_activation_refuses_an_unsigned_snapshot(
    store: FakeStore, tmp_path: Path
) -> None:
    async with manager_for(store, tmp_path, verifier=VERIFIER) as manager:
        assert served(manager) == "v1"
        await manager.publish(ChangeMessage(ACTIVATE, version="v2"))
        await eventually(lambda: manager.get_health_status()["signature_rejections"] == 1)
        store.active["prod"] = "v2"
        await manager.reconcile()
        assert manager.get_health_status()["signature_rejections"] == 2
        with pytest.raises(SignatureError, match="signature missing"):
            await manager.load_evaluator("v2")  # pinned and canary requests
        assert served(manager) == "v1"
        health = manager.get_health_status()
        assert not health["healthy"] and "signature missing" in health["last_error"]
        assert health["signature_verification"] is True


async def test_a_signature_by_an_untrusted_key_is_refused_and_a_good_one_passes(
    store: FakeStore, tmp_path: Path
) -> None:
    sign(store, "v2", STRANGER)
    sign(store, "v3")
    async with manager_for(store, tmp_path, verifier=VERIFIER) as manager:
        assert not await manager.activate("v2", source="test")
        assert f"unknown key id {STRANGER.key_id}" in manager.get_health_status()["last_error"]
        assert await manager.activate("v3", source="test")
        assert served(manager) == "v3" and manager.healthy


async def test_an_unsigned_last_known_good_copy_is_not_served(
    store: FakeStore, tmp_path: Path
) -> None:
    FileSnapshotCache(tmp_path).save(store.snapshots["v2"])  # unsigned, on disk
    store.down = True
    async with manager_for(store, tmp_path, verifier=VERIFIER) as manager:
        assert manager.get_active_evaluator() is None
        assert "signature missing" in (manager.last_error or "")
    FileSnapshotCache(tmp_path).save(store.snapshots["v1"])  # signed
    async with manager_for(store, tmp_path, verifier=VERIFIER) as manager:
        assert served(manager) == "v1" and manager.get_metadata()["served_from_cache"]
