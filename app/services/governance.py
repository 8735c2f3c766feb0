"""Governance: validation runs, promotions, rollbacks and canary lanes (DESIGN.md §6).

Every write goes to the database in one transaction first; only after it commits are the
replicas told (a publish failure is logged and counted, and replicas reconcile anyway).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog

from app.domain.bundle import MANIFEST as BUNDLE_MANIFEST
from app.domain.bundle import is_pkg_bundle, read_bundle, write_bundle
from app.domain.change import ACTIVATE, DEPLOYMENTS_CHANGED, ChangeMessage
from app.domain.document import (
    ENVIRONMENTS,
    Fixture,
    PolicyDocument,
    document_from_snapshot,
    parse_policy_document,
)
from app.domain.errors import (
    BundleError,
    DocumentError,
    FieldError,
    NotFoundError,
    SignatureError,
)
from app.domain.fixtures import run_fixtures
from app.domain.snapshot import PKGSnapshotData
from app.domain.trust import SnapshotSignature, signing_payload, verify_chain
from app.services.evaluator import PKGEvaluator
from app.services.manager import PKGManager
from app.services.ports import AuditTrail
from app.services.signing import NO_VERIFICATION, Signer, Verifier

log = structlog.get_logger("pkg.governance")


class Governance:
    def __init__(
        self,
        client: Any,
        manager: PKGManager,
        *,
        signer: Signer | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        self.client = client
        self.manager = manager
        self.signer = signer  # the service's key: signs unsigned snapshots and audit rows
        self.verifier = verifier or NO_VERIFICATION

    @property
    def env(self) -> str:
        return self.manager.env

    # ------------------------------------------------------------------ snapshots
    async def create_snapshot(
        self, document: PolicyDocument, *, signature: SnapshotSignature | None = None
    ) -> PKGSnapshotData:
        # build it once before storing: a document whose engine can't load is refused (422)
        candidate = document.to_snapshot()
        signature = self._signature_for(candidate, signature)
        await asyncio.to_thread(PKGEvaluator, candidate)
        snapshot: PKGSnapshotData = await self.client.create_snapshot(document, signature)
        log.info(
            "snapshot_created",
            version=snapshot.version,
            env=snapshot.env,
            signing_key_id=snapshot.signing_key_id,
        )
        return snapshot

    def _signature_for(
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

    # ------------------------------------------------------------------ bundles
    async def import_bundle(self, data: bytes) -> PKGSnapshotData:
        """Store a PKG export bundle, verifying its members, checksum and signature."""
        if not await asyncio.to_thread(is_pkg_bundle, data):
            raise BundleError(
                f"not a PKG bundle: it has no {BUNDLE_MANIFEST} member (export one with "
                "`pkgctl export`)"
            )
        bundle = await asyncio.to_thread(read_bundle, data)
        document = replace(
            parse_policy_document(bundle.document), checksum_scheme=bundle.checksum_scheme
        )
        if document.checksum != bundle.manifest.get("checksum"):
            raise BundleError(
                f"bundle checksum {bundle.manifest.get('checksum')!r} does not match its "
                f"content ({document.checksum})"
            )
        return await self.create_snapshot(document, signature=bundle.signature)

    async def export_bundle(self, version: str) -> bytes:
        """A stored snapshot as bundle bytes; a snapshot whose content was altered is refused."""
        snapshot = await self.snapshot(version)
        snapshot.verify_checksum()
        rows = await self.client.get_validation_fixtures(snapshot.id)
        fixtures = [Fixture(r["name"], r["input"], r["expect"]) for r in rows]
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
    async def verify_audit(self, env: str | None = None) -> dict[str, Any]:
        """Walk `env`'s audit chain; name the first row altered, removed or inserted."""
        env = env or self.env
        if env not in ENVIRONMENTS:
            allowed = ", ".join(ENVIRONMENTS)
            raise DocumentError([FieldError("env", f"unknown env {env!r} (one of {allowed})")])
        trail: AuditTrail = self.client
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

    async def snapshot(self, version: str) -> PKGSnapshotData:
        snapshot: PKGSnapshotData | None = await self.client.get_snapshot_by_version(version)
        if snapshot is None:
            raise NotFoundError(f"snapshot {version} does not exist")
        return snapshot

    async def simulate(self, version: str, facts: dict[str, Any]) -> dict[str, Any]:
        evaluator = await self.manager.load_evaluator(version)
        return evaluator.evaluate(facts)

    # ------------------------------------------------------------------ validation
    async def validate(self, version: str) -> dict[str, Any]:
        """Run every fixture of `version` in a sandbox evaluator (never the active one)."""
        snapshot = await self.snapshot(version)
        rows = await self.client.get_validation_fixtures(snapshot.id)
        fixtures = [Fixture(r["name"], r["input"], r["expect"]) for r in rows]
        started = datetime.now(UTC)
        run_id = await self.client.create_validation_run(snapshot.id, started_at=started)
        sandbox = await asyncio.to_thread(PKGEvaluator, snapshot)
        report = await asyncio.to_thread(run_fixtures, sandbox.evaluate, fixtures)
        success = report["total"] > 0 and report["failed"] == 0
        if report["total"] == 0:
            report["reason"] = "the snapshot has no fixtures; add some or promote with force"
        await self.client.finish_validation_run(run_id, success=success, report=report)
        log.info("validation_finished", version=version, run_id=run_id, success=success)
        run: dict[str, Any] = await self.client.get_validation_run(run_id)
        return run

    # ------------------------------------------------------------------ promotion
    async def promote(
        self,
        version: str,
        *,
        actor: str,
        reason: str | None,
        force: bool = False,
        env: str | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        env = env or self.env
        await self._check_activatable(version)
        promotion: dict[str, Any] = await self.client.promote(
            version, env=env, actor=actor, reason=reason, force=force, on_behalf_of=on_behalf_of
        )
        await self._announce(ChangeMessage(ACTIVATE, version=version, env=env))
        return promotion

    async def rollback(
        self,
        *,
        actor: str,
        reason: str | None,
        to_version: str | None,
        env: str | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        env = env or self.env
        if to_version is not None:
            await self._check_activatable(to_version)
        promotion: dict[str, Any] = await self.client.rollback(
            env=env, actor=actor, reason=reason, to_version=to_version, on_behalf_of=on_behalf_of
        )
        await self._announce(ChangeMessage(ACTIVATE, version=promotion["to_version"], env=env))
        return promotion

    async def _check_activatable(self, version: str) -> None:
        """With verification on, refuse (before anything changes) to promote what no replica
        would activate; every replica checks again at activation whatever the database says."""
        if not self.verifier.enabled:
            return
        snapshot = await self.snapshot(version)
        snapshot.verify_checksum()
        self.verifier.verify_snapshot(snapshot)

    # ------------------------------------------------------------------ canary lanes
    async def create_deployment(self, **fields: Any) -> dict[str, Any]:
        deployment: dict[str, Any] = await self.client.create_deployment(**fields)
        await self._deployments_changed()
        return deployment

    async def update_deployment(self, deployment_id: int, **fields: Any) -> dict[str, Any]:
        deployment: dict[str, Any] = await self.client.update_deployment(deployment_id, **fields)
        await self._deployments_changed()
        return deployment

    async def _deployments_changed(self) -> None:
        await self.manager.refresh_deployments()
        await self._announce(ChangeMessage(DEPLOYMENTS_CHANGED, env=self.env))

    async def _announce(self, message: ChangeMessage) -> None:
        # tell the fleet first (its latency is what users wait for), then converge here too,
        # so the replica that took the write serves it when the response returns
        await self.manager.publish(message)
        if message.action == ACTIVATE and message.version and message.env == self.env:
            await self.manager.activate(message.version, source="api")


async def bootstrap(governance: Governance, document: PolicyDocument) -> bool:
    """First start of an empty store (`make run`): import, validate and promote a document.

    Returns False, changing nothing, when the env already has snapshots."""
    existing = await governance.client.list_snapshots(env=document.env, limit=1)
    if existing:
        return False
    await governance.create_snapshot(document)
    run = await governance.validate(document.version)
    await governance.promote(
        document.version,
        actor="bootstrap",
        reason="first start: seed policy",
        force=not run.get("success", False),
        env=document.env,
    )
    log.info("bootstrap_promoted", version=document.version, validation=run.get("success"))
    return True
