"""Reading what `POST /snapshots` gets besides documents: PKG bundles and signature headers."""

from __future__ import annotations

from typing import Final

from fastapi import Request

from app.domain.bundle import BundleError
from app.domain.errors import SignatureError
from app.domain.trust import SnapshotSignature

GZIP_TYPES: Final = ("application/gzip", "application/x-gzip", "application/x-tar+gzip")
SIGNATURE_HEADER: Final = "pkg-signature"


def is_gzip(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in GZIP_TYPES


async def read_bundle_body(request: Request) -> bytes:
    data = await request.body()  # bounded by the body-size limit (PKG_MAX_BODY_BYTES)
    if not data:
        raise BundleError("bundle", "the request body is empty: expected a .tar.gz bundle")
    return data


def signature_header(request: Request) -> SnapshotSignature | None:
    """`PKG-Signature: <key id>:<base64 Ed25519 signature>` (what `pkgctl sign` produces)."""
    raw = request.headers.get(SIGNATURE_HEADER)
    if raw is None:
        return None
    key_id, sep, value = raw.strip().partition(":")
    if not sep or not key_id or not value:
        raise SignatureError("PKG-Signature header must be '<key id>:<base64 signature>'")
    return SnapshotSignature(key_id, value)
