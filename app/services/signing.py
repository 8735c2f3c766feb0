"""Ed25519 keys: sign snapshots and audit rows, verify them before anything is activated.

A key is named by its key id: the first 16 hex digits of the sha256 of its raw 32-byte public
key. `PKG_VERIFY_KEYS` lists the public keys a replica trusts (several, to rotate); a snapshot
signed by any other key is refused like an unsigned one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.domain.errors import SignatureError
from app.domain.snapshot import PKGSnapshotData
from app.domain.trust import audit_row_payload, signing_payload

KEY_ID_HEX: Final = 16
RAW_KEY_BYTES: Final = 32


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX]


def generate_key_pair() -> tuple[bytes, bytes, str]:
    """(private PEM, public PEM, key id) of a fresh key (`pkgctl keygen`)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem, key_id_of(public)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SignatureError(f"cannot read the signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(spec: str) -> Ed25519PublicKey:
    """A public key from a PEM file path, or from the base64 of its 32 raw bytes."""
    spec = spec.strip()
    try:
        raw = base64.b64decode(spec, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == RAW_KEY_BYTES:
        return Ed25519PublicKey.from_public_bytes(raw)
    try:
        key = serialization.load_pem_public_key(Path(spec).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise SignatureError(f"cannot read the verify key {spec!r}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{spec} is not an Ed25519 public key")
    return key


class Signer:
    """Signs with one private key (`pkgctl sign`, and the service's `PKG_SIGNING_KEY`)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_id_of(private_key.public_key())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        return cls(load_private_key(path))

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._key.sign(payload)).decode("ascii")

    def sign_snapshot(self, snapshot: PKGSnapshotData) -> tuple[str, str]:
        """(key id, base64 signature) over the snapshot's signing payload."""
        return self.key_id, self.sign(signing_payload(snapshot))

    def sign_audit_row(self, row: Mapping[str, Any]) -> tuple[str, str]:
        return self.key_id, self.sign(audit_row_payload(row))


class Verifier:
    """The public keys a replica trusts. With none, verification is off (`enabled` False)."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys = {key_id_of(key): key for key in keys}

    @classmethod
    def from_specs(cls, specs: Iterable[str]) -> Verifier:
        return cls(load_public_key(spec) for spec in specs if spec.strip())

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def check(self, payload: bytes, *, key_id: str | None, signature: str | None) -> None:
        """Raise `SignatureError` saying what failed: missing, unknown key id, or invalid."""
        if not signature or not key_id:
            raise SignatureError("signature missing")
        key = self._keys.get(key_id)
        if key is None:
            raise SignatureError(f"signature by unknown key id {key_id}")
        try:
            key.verify(base64.b64decode(signature, validate=True), payload)
        except (InvalidSignature, binascii.Error, ValueError) as exc:
            raise SignatureError(f"signature by key {key_id} does not verify") from exc

    def verify_snapshot(self, snapshot: PKGSnapshotData) -> None:
        """The one check every activation passes through (a no-op with verification off)."""
        if not self.enabled:
            return
        try:
            self.check(
                signing_payload(snapshot),
                key_id=snapshot.signing_key_id,
                signature=snapshot.signature,
            )
        except SignatureError as exc:
            raise SignatureError(f"snapshot {snapshot.version}: {exc}") from exc

    def audit_row_problem(self, row: Mapping[str, Any]) -> str | None:
        """None when a signed audit row's signature holds (`verify_chain` decides about unsigned
        rows); with no verify keys configured signatures are not checked."""
        if not self.enabled or not row.get("signature"):
            return None
        try:
            self.check(
                audit_row_payload(row), key_id=row.get("signing_key_id"), signature=row["signature"]
            )
        except SignatureError as exc:
            return str(exc)
        return None


NO_VERIFICATION: Final = Verifier()
