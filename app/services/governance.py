"""Governance: validation runs, promotions, rollbacks and canary lanes (DESIGN.md §6).

Every write goes to the database in one transaction first; only after it commits are the
replicas told (a publish failure is logged and counted, and replicas reconcile anyway).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog

from app.domain.change import ACTIVATE, DEPLOYMENTS_CHANGED, ChangeMessage
from app.domain.document import Fixture, PolicyDocument
from app.domain.errors import NotFoundError
from app.domain.fixtures import run_fixtures
from app.domain.snapshot import PKGSnapshotData
from app.services.evaluator import PKGEvaluator
from app.services.manager import PKGManager

log = structlog.get_logger("pkg.governance")


class Governance:
    def __init__(self, client: Any, manager: PKGManager) -> None:
        self.client = client
        self.manager = manager

    @property
    def env(self) -> str:
        return self.manager.env

    # ------------------------------------------------------------------ snapshots
    async def create_snapshot(self, document: PolicyDocument) -> PKGSnapshotData:
        # build it once before storing: a document whose engine can't load is refused (422)
        await asyncio.to_thread(PKGEvaluator, document.to_snapshot())
        snapshot: PKGSnapshotData = await self.client.create_snapshot(document)
        log.info("snapshot_created", version=snapshot.version, env=snapshot.env)
        return snapshot

    async def snapshot(self, version: str) -> PKGSnapshotData:
        snapshot: PKGSnapshotData | None = await self.client.get_snapshot_by_version(version)
        if snapshot is None:
            raise NotFoundError(f"snapshot {version} does not exist")
        return snapshot

    async def load_evaluator(self, version: str) -> PKGEvaluator:
        return await self.manager.load_evaluator(version)

    async def fixtures_of(self, version: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self.client.get_validation_fixtures(
            (await self.snapshot(version)).id
        )
        return rows

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
        metrics: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        env = env or self.env
        promotion: dict[str, Any] = await self.client.promote(
            version, env=env, actor=actor, reason=reason, force=force, metrics=metrics
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
        metrics: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        env = env or self.env
        promotion: dict[str, Any] = await self.client.rollback(
            env=env, actor=actor, reason=reason, to_version=to_version, metrics=metrics
        )
        await self._announce(ChangeMessage(ACTIVATE, version=promotion["to_version"], env=env))
        return promotion

    # ------------------------------------------------------------------ canary lanes
    async def create_deployment(self, **fields: Any) -> dict[str, Any]:
        deployment: dict[str, Any] = await self.client.create_deployment(**fields)
        await self._deployments_changed()
        return deployment

    async def update_deployment(self, deployment_id: int, **fields: Any) -> dict[str, Any]:
        deployment: dict[str, Any] = await self.client.update_deployment(deployment_id, **fields)
        await self._deployments_changed()
        return deployment

    async def deployment(self, deployment_id: int) -> dict[str, Any]:
        lanes: list[dict[str, Any]] = await self.client.get_deployments(active_only=False)
        for lane in lanes:
            if lane["id"] == deployment_id:
                return lane
        raise NotFoundError(f"deployment {deployment_id} does not exist")

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
