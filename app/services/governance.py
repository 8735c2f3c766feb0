"""Governance: validation runs, promotions, rollbacks and canary lanes (DESIGN.md §6).

Every write goes to the database in one transaction first; only after it commits are the
replicas told (a publish failure is logged and counted, and replicas reconcile anyway).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Unpack

from app.domain.bundle import BundleRequest
from app.domain.change import ACTIVATE, DEPLOYMENTS_CHANGED, ChangeMessage
from app.domain.document import Fixture, PolicyDocument
from app.domain.errors import NotFoundError, PKGError, StoreUnavailableError
from app.domain.fixtures import run_fixtures
from app.domain.snapshot import PKGSnapshotData
from app.domain.trust import SnapshotSignature
from app.services.audit_log import Who, audit_event, audit_refused
from app.services.coverage import measure_fixtures
from app.services.evaluator import PKGEvaluator
from app.services.logs import get_logger
from app.services.manager import PKGManager
from app.services.ports import DeploymentChanges, GovernanceStore, NewDeployment, Row
from app.services.trust import Trust

log = get_logger("pkg.governance")


@dataclass(frozen=True)
class SnapshotView:
    """A stored snapshot as the API shows it: the model, its fixtures, its list-row."""

    snapshot: PKGSnapshotData
    fixtures: list[Fixture]
    summary: Row


def fixtures_from_rows(rows: list[Row]) -> list[Fixture]:
    return [Fixture(row["name"], row["input"], row["expect"]) for row in rows]


class Governance:
    """Every write the API makes, and every read it shows; routes talk to nothing else."""

    def __init__(
        self, store: GovernanceStore, manager: PKGManager, *, trust: Trust | None = None
    ) -> None:
        self.store = store
        self.manager = manager
        self.trust = trust or Trust()

    @property
    def env(self) -> str:
        return self.manager.env

    # ------------------------------------------------------------------ snapshots
    async def create_snapshot(
        self, document: PolicyDocument, *, signature: SnapshotSignature | None = None
    ) -> PKGSnapshotData:
        candidate = document.to_snapshot()
        signature = self.trust.signature_for(candidate, signature)  # 422 before anything else
        # build it once before storing: a document whose engine can't load is refused (422)
        await asyncio.to_thread(PKGEvaluator, candidate)
        snapshot = await self.store.create_snapshot(document, signature)
        log.info(
            "snapshot_created",
            version=snapshot.version,
            env=snapshot.env,
            signing_key_id=snapshot.signing_key_id,
        )
        return snapshot

    async def create_from_bundle(
        self, data: bytes, request: BundleRequest
    ) -> tuple[PKGSnapshotData, list[Fixture]]:
        """Store a gzip bundle: an OPA bundle, or a PKG export (its members, checksum and
        signature verified)."""
        document, signature = await self.trust.read_bundle(data, request)
        return await self.create_snapshot(document, signature=signature), list(document.fixtures)

    async def export_bundle(self, version: str) -> bytes:
        snapshot = await self.snapshot(version)
        return self.trust.write_bundle(snapshot, await self.fixtures(snapshot))

    async def verify_audit(self, env: str | None = None) -> dict[str, Any]:
        return await self.trust.verify_audit(self.store, env or self.env)

    async def snapshot(self, version: str) -> PKGSnapshotData:
        snapshot = await self.store.get_snapshot_by_version(version)
        if snapshot is None:
            raise NotFoundError(f"snapshot {version} does not exist")
        return snapshot

    async def load_evaluator(self, version: str) -> PKGEvaluator:
        return await self.manager.load_evaluator(version)

    async def fixtures_of(self, version: str) -> list[Row]:
        return await self.fixture_rows(await self.snapshot(version))

    async def snapshot_id(self, version: str | None) -> int | None:
        """The id of a stored version (404 if unknown), or None for no version (a filter)."""
        return (await self.snapshot(version)).id if version else None

    async def view(self, snapshot: PKGSnapshotData) -> SnapshotView:
        summary = await self.store.get_snapshot_summary(snapshot.version) or {}
        return SnapshotView(snapshot, await self.fixtures(snapshot), summary)

    async def created_view(
        self, snapshot: PKGSnapshotData, fixtures: list[Fixture]
    ) -> SnapshotView:
        """The view of a snapshot just committed, from what is known without a read: a failed
        read-back must not answer 5xx for a stored snapshot (the client's retry would get 409)."""
        try:
            summary = await self.store.get_snapshot_summary(snapshot.version) or {}
        except StoreUnavailableError as exc:
            log.warning("snapshot_summary_unavailable", version=snapshot.version, error=str(exc))
            summary = {}
        return SnapshotView(snapshot, fixtures, summary)

    async def snapshot_view(self, version: str) -> SnapshotView:
        return await self.view(await self.snapshot(version))

    async def active_snapshot_view(self, env: str | None = None) -> SnapshotView:
        env = env or self.env
        snapshot = await self.store.get_active_snapshot(env)
        if snapshot is None:
            raise NotFoundError(f"no active snapshot in env {env}")
        return await self.view(snapshot)

    async def list_snapshots(
        self, *, env: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Row]:
        return await self.store.list_snapshots(env=env, limit=limit, offset=offset)

    async def delete_snapshot(self, version: str) -> None:
        await self.store.delete_snapshot(version)
        log.info("snapshot_deleted", version=version)

    async def fixtures(self, snapshot: PKGSnapshotData) -> list[Fixture]:
        return fixtures_from_rows(await self.fixture_rows(snapshot))

    async def fixture_rows(self, snapshot: PKGSnapshotData) -> list[Row]:
        return await self.store.get_validation_fixtures(snapshot.id)

    async def add_fixtures(self, version: str, fixtures: list[Fixture]) -> list[Row]:
        snapshot = await self.snapshot(version)
        await self.store.add_fixtures(snapshot.id, fixtures)
        return await self.fixture_rows(snapshot)

    async def simulate(self, version: str, facts: dict[str, Any]) -> dict[str, Any]:
        evaluator = await self.manager.load_evaluator(version)
        return evaluator.evaluate(facts)

    # ------------------------------------------------------------------ validation
    async def validate(self, version: str) -> dict[str, Any]:
        """Run every fixture of `version` in a sandbox evaluator (never the active one)."""
        snapshot = await self.snapshot(version)
        fixtures = await self.fixtures(snapshot)
        started = datetime.now(UTC)
        # build and run first: a snapshot that cannot load (409/422) leaves no half-written run
        sandbox = await asyncio.to_thread(PKGEvaluator, snapshot)
        report = await asyncio.to_thread(run_fixtures, sandbox.evaluate, fixtures)
        coverage = await asyncio.to_thread(measure_fixtures, sandbox, fixtures)
        success = report["total"] > 0 and report["failed"] == 0
        if report["total"] == 0:
            report["reason"] = "the snapshot has no fixtures; add some or promote with force"
        run_id = await self.store.create_validation_run(snapshot.id, started_at=started)
        await self.store.finish_validation_run(
            run_id, success=success, report=report, coverage=coverage
        )
        log.info("validation_finished", version=version, run_id=run_id, success=success)
        return await self.validation_run(run_id)

    async def validation_run(self, run_id: int) -> Row:
        run = await self.store.get_validation_run(run_id)
        if run is None:
            raise NotFoundError(f"validation run {run_id} does not exist")
        return run

    async def validation_runs(self, *, version: str | None = None, limit: int = 100) -> list[Row]:
        snapshot_id = await self.snapshot_id(version)
        return await self.store.get_validation_runs(snapshot_id=snapshot_id, limit=limit)

    # ------------------------------------------------------------------ promotion
    async def promote(
        self,
        version: str,
        *,
        actor: str,
        reason: str | None,
        force: bool = False,
        env: str | None = None,
        metrics: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        env = env or self.env
        who = Who(actor, on_behalf_of, reason)
        try:
            await self._check_activatable(version)
            promotion = await self.store.promote(
                version,
                env=env,
                actor=actor,
                reason=reason,
                force=force,
                metrics=metrics,
                on_behalf_of=on_behalf_of,
            )
        except PKGError as exc:
            audit_refused("promote", who, env=env, version=version, error=exc)
            raise
        audit_event(promotion, who, env=env, force=force)
        await self._announce(ChangeMessage(ACTIVATE, version=version, env=env))
        return promotion

    async def rollback(
        self,
        *,
        actor: str,
        reason: str | None,
        to_version: str | None,
        env: str | None = None,
        metrics: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        env = env or self.env
        who = Who(actor, on_behalf_of, reason)
        try:
            if to_version is not None:
                await self._check_activatable(to_version)
            promotion = await self.store.rollback(
                env=env,
                actor=actor,
                reason=reason,
                to_version=to_version,
                metrics=metrics,
                on_behalf_of=on_behalf_of,
            )
        except PKGError as exc:
            audit_refused("rollback", who, env=env, version=to_version, error=exc)
            raise
        audit_event(promotion, who, env=env)
        await self._announce(ChangeMessage(ACTIVATE, version=promotion["to_version"], env=env))
        return promotion

    async def _check_activatable(self, version: str) -> None:
        if self.trust.verifier.enabled:
            self.trust.check_activatable(await self.snapshot(version))

    async def promotions(
        self, *, version: str | None = None, env: str | None = None, limit: int = 100
    ) -> list[Row]:
        snapshot_id = await self.snapshot_id(version)
        return await self.store.get_promotions(snapshot_id=snapshot_id, env=env, limit=limit)

    # ------------------------------------------------------------------ canary lanes, devices
    async def deployments(
        self, *, target: str | None = None, region: str | None = None, active_only: bool = True
    ) -> list[Row]:
        return await self.store.get_deployments(
            target=target, region=region, active_only=active_only
        )

    async def coverage(self, *, target: str | None = None, region: str | None = None) -> list[Row]:
        return await self.store.get_deployment_coverage(target=target, region=region)

    async def create_deployment(self, **lane: Unpack[NewDeployment]) -> Row:
        deployment = await self.store.create_deployment(**lane)
        await self._deployments_changed()
        return deployment

    async def update_deployment(
        self, deployment_id: int, **changes: Unpack[DeploymentChanges]
    ) -> Row:
        deployment = await self.store.update_deployment(deployment_id, **changes)
        await self._deployments_changed()
        return deployment

    async def deployment(self, deployment_id: int) -> Row:
        for lane in await self.store.get_deployments(active_only=False):
            if lane["id"] == deployment_id:
                return lane
        raise NotFoundError(f"deployment {deployment_id} does not exist")

    async def heartbeat(
        self,
        device_id: str,
        *,
        device_type: str,
        snapshot_id: int | None,
        version: str | None,
        region: str,
    ) -> None:
        """A device reports what it runs; a version alone is resolved to its snapshot (404)."""
        if snapshot_id is None and version:
            snapshot_id = await self.snapshot_id(version)
        await self.store.update_device_heartbeat(
            device_id, device_type, snapshot_id, version, region
        )

    async def devices(
        self,
        *,
        device_type: str | None = None,
        region: str | None = None,
        version: str | None = None,
        limit: int = 1000,
    ) -> list[Row]:
        snapshot_id = await self.snapshot_id(version)
        rows = await self.store.get_device_versions(
            device_type=device_type, region=region, snapshot_id=snapshot_id
        )
        return rows[:limit]

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
    existing = await governance.list_snapshots(env=document.env, limit=1)
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
