"""Ed25519 snapshot signatures: what they cover, key ids, rotation."""

from __future__ import annotations

import base64
import copy
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from app.domain.document import parse_policy_document
from app.domain.errors import SignatureError
from app.domain.snapshot import PKGSnapshotData
from app.services.signing import Signer, Verifier, generate_key_pair, load_public_key
from tests.unit.trust.test_checksum_schemes import DOCUMENT


def _keys(tmp_path: Path, name: str) -> tuple[Signer, Path]:
    private_pem, public_pem, key_id = generate_key_pair()
    (tmp_path / f"{name}.pem").write_bytes(private_pem)
    (tmp_path / f"{name}.pub.pem").write_bytes(public_pem)
    signer = Signer.from_file(tmp_path / f"{name}.pem")
    assert signer.key_id == key_id and len(key_id) == 16
    return signer, tmp_path / f"{name}.pub.pem"


def _signed(signer: Signer, snapshot: PKGSnapshotData) -> PKGSnapshotData:
    key_id, value = signer.sign_snapshot(snapshot)
    return replace(snapshot, signature=value, signing_key_id=key_id)


@pytest.fixture
def snapshot() -> PKGSnapshotData:
    return parse_policy_document(copy.deepcopy(DOCUMENT)).to_snapshot()


def test_a_signed_snapshot_verifies_with_its_public_key(
    tmp_path: Path, snapshot: PKGSnapshotData
) -> None:
    signer, public = _keys(tmp_path, "k1")
    Verifier.from_specs([str(public)]).verify_snapshot(_signed(signer, snapshot))


def test_the_signature_covers_version_env_and_checksum(
    tmp_path: Path, snapshot: PKGSnapshotData
) -> None:
    signer, public = _keys(tmp_path, "k1")
    verifier = Verifier.from_specs([str(public)])
    signed = _signed(signer, snapshot)
    for changed in (
        replace(signed, version="rules@9.9.9"),
        replace(signed, env="staging"),
        replace(signed, checksum="0" * 64),
    ):
        with pytest.raises(SignatureError, match="does not verify"):
            verifier.verify_snapshot(changed)


def test_missing_and_unknown_key_signatures_are_refused_by_name(
    tmp_path: Path, snapshot: PKGSnapshotData
) -> None:
    old, _old_public = _keys(tmp_path, "old")
    _new, new_public = _keys(tmp_path, "new")
    verifier = Verifier.from_specs([str(new_public)])  # the old key was rotated out
    with pytest.raises(SignatureError, match="signature missing"):
        verifier.verify_snapshot(snapshot)
    with pytest.raises(SignatureError, match=f"unknown key id {old.key_id}"):
        verifier.verify_snapshot(_signed(old, snapshot))


def test_several_verify_keys_allow_rotation_and_raw_base64_keys_work(
    tmp_path: Path, snapshot: PKGSnapshotData
) -> None:
    old, old_public = _keys(tmp_path, "old")
    new, new_public = _keys(tmp_path, "new")
    raw = load_public_key(str(new_public)).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    verifier = Verifier.from_specs([str(old_public), base64.b64encode(raw).decode()])
    assert verifier.key_ids == sorted([old.key_id, new.key_id])
    verifier.verify_snapshot(_signed(old, snapshot))
    verifier.verify_snapshot(_signed(new, snapshot))


def test_with_no_verify_keys_verification_is_off(snapshot: PKGSnapshotData) -> None:
    verifier = Verifier()
    assert not verifier.enabled
    verifier.verify_snapshot(snapshot)  # unsigned passes: nothing to check against


def test_an_unreadable_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="cannot read the verify key"):
        Verifier.from_specs([str(tmp_path / "missing.pem")])
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(SignatureError, match="cannot read the signing key"):
        Signer.from_file(tmp_path / "bad.pem")
