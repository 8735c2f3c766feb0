"""Trust decisions governance makes: which signature a snapshot is stored with, whether a
version may be promoted, what a bundle holds, and whether the audit chain is intact.

The service's signing key and the keys it trusts come in from the composition root; with
neither, everything here is a pass-through (verification off, nothing signed).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from app.domain.bundle import (
    BUNDLE_READERS,
    OPA_BUNDLE,
    PKG_EXPORT,
    PKG_EXPORT_MARKER,
    BundleError,
    BundleRequest,
    bundle_kind,
    read_members,
)
from app.domain.document import (
    ENVIRONMENTS,
    Fixture,
    PolicyDocument,
    document_from_snapshot,
    parse_policy_document,
)
from app.domain.errors import DocumentError, FieldError, SignatureError
from app.domain.pkg_bundle import read_bundle as read_pkg_bundle
from app.domain.pkg_bundle import write_bundle
from app.domain.snapshot import PKGSnapshotData
from app.domain.trust import SnapshotSignature, signing_payload, verify_chain
from app.services.logs import get_logger
from app.services.ports import AuditTrail
from app.services.signing import NO_VERIFICATION, Signer, Verifier

log = get_logger("pkg.trust")


class Trust:
    def __init__(self, *, signer: Signer | None = None, verifier: Verifier | None = None) -> None:
        self.signer = signer  # the service's key: signs unsigned snapshots and audit rows
        self.verifier = verifier or NO_VERIFICATION

    def signature_for(
        self, snapshot: PKGSnapshotData, given: SnapshotSignature | None
    ) -> SnapshotSignature | None:
        """The signature to store: the caller's (checked when we hold verify keys), else the
        service's own; with verification on, an unsigned snapshot is refused before storing."""
        if given is not None:
            if self.verifier.enabled:
                self.verifier.check(
                    signing_payload(snapshot), key_id=given.key_id, signature=given.value
                )
            return given
        if self.signer is not None:
            return SnapshotSignature(*self.signer.sign_snapshot(snapshot))
        if self.verifier.enabled:
            raise SignatureError(
                f"snapshot {snapshot.version}: signature missing (this service verifies "
                "signatures: sign with `pkgctl sign` or push with PKG_SIGNING_KEY)"
            )
        return None

    def check_activatable(self, snapshot: PKGSnapshotData) -> None:
        """With verification on, refuse (before anything changes) to promote what no replica
        would activate; every replica checks again at activation whatever the database says."""
        if self.verifier.enabled:
            snapshot.verify_checksum()
            self.verifier.verify_snapshot(snapshot)

    # ------------------------------------------------------------------ bundles
    @staticmethod
    async def read_bundle(
        data: bytes, request: BundleRequest
    ) -> tuple[PolicyDocument, SnapshotSignature | None]:
        """A gzip bundle → the document it holds and the signature it carries: a PKG export
        (`pkg-bundle.json`: its checksum must match its content) or an OPA bundle (`.manifest`;
        unsigned, like any pushed document)."""
        members = await asyncio.to_thread(read_members, data, request.limits)
        if bundle_kind(members) != PKG_EXPORT:
            raw = await asyncio.to_thread(BUNDLE_READERS[OPA_BUNDLE], members, request)
            return parse_policy_document(raw), None
        bundle = await asyncio.to_thread(read_pkg_bundle, members)
        document = replace(
            parse_policy_document(bundle.document), checksum_scheme=bundle.checksum_scheme
        )
        if document.checksum != bundle.manifest.get("checksum"):
            raise BundleError(
                PKG_EXPORT_MARKER,
                f"checksum {bundle.manifest.get('checksum')!r} does not match the bundle's "
                f"content ({document.checksum})",
            )
        return document, bundle.signature

    @staticmethod
    def write_bundle(snapshot: PKGSnapshotData, fixtures: list[Fixture]) -> bytes:
        """A stored snapshot as bundle bytes; a snapshot whose content was altered is refused."""
        snapshot.verify_checksum()
        signature = (
            SnapshotSignature(snapshot.signing_key_id, snapshot.signature)
            if snapshot.signature and snapshot.signing_key_id
            else None
        )
        return write_bundle(
            document_from_snapshot(snapshot, fixtures),
            checksum=snapshot.content_checksum(),
            checksum_scheme=snapshot.checksum_scheme,
            signature=signature,
        )

    # ------------------------------------------------------------------ audit chain
    async def verify_audit(self, trail: AuditTrail, env: str) -> dict[str, Any]:
        """Walk `env`'s audit chain; name the first row altered, removed or inserted."""
        if env not in ENVIRONMENTS:
            allowed = ", ".join(ENVIRONMENTS)
            raise DocumentError([FieldError("env", f"unknown env {env!r} (one of {allowed})")])
        rows = await trail.get_audit_chain(env)
        active = await trail.get_active_version(env)
        checked, found = verify_chain(
            rows, check_signature=self.verifier.audit_row_problem, active_version=active
        )
        if found is not None:
            log.warning("audit_chain_broken", env=env, **found.as_dict())
        return {
            "env": env,
            "ok": found is None,
            "rows": checked,
            "signed": self.verifier.enabled,
            "first_break": found.as_dict() if found else None,
        }
