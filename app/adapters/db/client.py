"""`PKGClient`: the seed's facade over the repositories, plus the writes the services need.

Every method returns plain dicts (datetimes as aware `datetime`s) or `PKGSnapshotData`; an
unreachable database raises `StoreUnavailableError`. The repositories are reachable directly
(`client.snapshots`, `.deployments`, `.validation`, `.promotions`, `.devices`), as in the seed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.db.deployments import SqlDeploymentRepository, SqlDeviceRepository
from app.adapters.db.engine import create_engine
from app.adapters.db.integrity import check_integrity
from app.adapters.db.promotions import AuditSigner, SqlPromotionRepository
from app.adapters.db.repositories import SqlSnapshotRepository
from app.adapters.db.validation import SqlValidationRepository
from app.domain.document import Fixture, PolicyDocument
from app.domain.snapshot import PKGSnapshotData
from app.domain.trust import SnapshotSignature

T = TypeVar("T")
CLOSE_GRACE_S: Final = 10.0


def _forget(task: asyncio.Task[Any]) -> None:
    """Retrieve the outcome of work whose caller went away, so nothing logs it as lost."""
    if not task.cancelled():
        task.exception()


class PKGClient:
    def __init__(
        self,
        url: str | None = None,
        *,
        env: str = "prod",
        engine: AsyncEngine | None = None,
        audit_signer: AuditSigner | None = None,
    ) -> None:
        if engine is None:
            if url is None:
                from app.settings import Settings

                url = Settings().database_url
            engine = create_engine(url)
            self._owns_engine = True
        else:
            self._owns_engine = False
        self.engine = engine
        self.env = env
        self.snapshots = SqlSnapshotRepository(engine, env=env)
        self.deployments = SqlDeploymentRepository(engine)
        self.validation = SqlValidationRepository(engine)
        self.promotions = SqlPromotionRepository(engine, env=env, audit_signer=audit_signer)
        self.devices = SqlDeviceRepository(engine)
        self._inflight: set[asyncio.Task[Any]] = set()

    async def _run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run one unit of work so that cancelling the caller (a timeout, a shutdown) does not
        cancel it halfway: a cancelled SQL call leaves a connection the pool must terminate.
        The caller still sees the cancellation at once; `close` waits for the work to end."""
        task = asyncio.ensure_future(work)
        self._inflight.add(task)
        task.add_done_callback(_forget)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def close(self) -> None:
        """Let in-flight work finish, then dispose the engine (only one this client created)."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=CLOSE_GRACE_S)
        if self._owns_engine:
            await self.engine.dispose()

    async def __aenter__(self) -> PKGClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ snapshots
    async def get_active_snapshot(self, env: str | None = None) -> PKGSnapshotData | None:
        """The active snapshot of `env` (default: this client's env, as in the seed)."""
        return await self._run(self.snapshots.get_active_snapshot(env or self.env))

    async def get_snapshot_summary(self, version: str) -> dict[str, Any] | None:
        """The list-row of one snapshot (is_active, created_at, activated_at, rules_count)."""
        return await self._run(self.snapshots.get_summary(version))

    async def get_snapshot_by_version(self, version: str) -> PKGSnapshotData | None:
        return await self._run(self.snapshots.get_snapshot_by_version(version))

    async def get_active_artifact(self, env: str = "prod") -> dict[str, Any] | None:
        return await self._run(self.snapshots.get_active_artifact(env))

    async def get_active_version(self, env: str) -> str | None:
        return await self._run(self.snapshots.get_active_version(env))

    async def list_snapshots(
        self, env: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        return await self._run(self.snapshots.list_snapshots(env, limit=limit, offset=offset))

    async def create_snapshot(
        self, document: PolicyDocument, signature: SnapshotSignature | None = None
    ) -> PKGSnapshotData:
        return await self._run(self.snapshots.create_snapshot(document, signature))

    async def add_fixtures(self, snapshot_id: int, fixtures: list[Fixture]) -> None:
        await self._run(self.snapshots.add_fixtures(snapshot_id, fixtures))

    async def delete_snapshot(self, version: str) -> None:
        await self._run(self.snapshots.delete_snapshot(version))

    # ------------------------------------------------------------------ deployments
    async def get_deployments(
        self,
        snapshot_id: int | None = None,
        target: str | None = None,
        region: str | None = None,
        active_only: bool = True,
    ) -> list[dict[str, Any]]:
        return await self._run(
            self.deployments.get_deployments(snapshot_id, target, region, active_only)
        )

    async def get_deployment_coverage(
        self, target: str | None = None, region: str | None = None
    ) -> list[dict[str, Any]]:
        return await self._run(self.deployments.get_deployment_coverage(target, region))

    async def create_deployment(
        self,
        *,
        snapshot_version: str,
        target: str,
        region: str = "global",
        percent: int,
        is_active: bool = True,
        mode: str = "canary",
    ) -> dict[str, Any]:
        return await self._run(
            self.deployments.create_deployment(
                snapshot_version=snapshot_version,
                target=target,
                region=region,
                percent=percent,
                is_active=is_active,
                mode=mode,
            )
        )

    async def update_deployment(
        self,
        deployment_id: int,
        *,
        percent: int | None = None,
        is_active: bool | None = None,
        snapshot_version: str | None = None,
        mode: str | None = None,
    ) -> dict[str, Any]:
        return await self._run(
            self.deployments.update_deployment(
                deployment_id,
                percent=percent,
                is_active=is_active,
                snapshot_version=snapshot_version,
                mode=mode,
            )
        )

    # ------------------------------------------------------------------ validation
    async def get_validation_fixtures(self, snapshot_id: int) -> list[dict[str, Any]]:
        return await self._run(self.validation.get_validation_fixtures(snapshot_id))

    async def create_validation_run(
        self, snapshot_id: int, started_at: datetime | None = None
    ) -> int:
        return await self._run(self.validation.create_validation_run(snapshot_id, started_at))

    async def finish_validation_run(
        self,
        run_id: int,
        success: bool,
        report: dict[str, Any] | None = None,
        coverage: dict[str, Any] | None = None,
    ) -> None:
        await self._run(self.validation.finish_validation_run(run_id, success, report, coverage))

    async def get_validation_runs(
        self, snapshot_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return await self._run(self.validation.get_validation_runs(snapshot_id, limit))

    async def get_validation_run(self, run_id: int) -> dict[str, Any] | None:
        return await self._run(self.validation.get_validation_run(run_id))

    # ------------------------------------------------------------------ promotions
    async def get_promotions(
        self, snapshot_id: int | None = None, env: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return await self._run(self.promotions.get_promotions(snapshot_id, env, limit))

    async def create_promotion(
        self,
        snapshot_id: int,
        actor: str,
        action: str = "promote",
        reason: str | None = None,
        metrics: dict[str, Any] | None = None,
        success: bool = True,
        on_behalf_of: str | None = None,
    ) -> int:
        return await self._run(
            self.promotions.create_promotion(
                snapshot_id, actor, action, reason, metrics, success, on_behalf_of
            )
        )

    async def promote(
        self,
        version: str,
        *,
        env: str,
        actor: str,
        reason: str | None = None,
        force: bool = False,
        metrics: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        return await self._run(
            self.promotions.promote(
                version,
                env=env,
                actor=actor,
                reason=reason,
                force=force,
                metrics=metrics,
                on_behalf_of=on_behalf_of,
            )
        )

    async def rollback(
        self,
        *,
        env: str,
        actor: str,
        reason: str | None = None,
        to_version: str | None = None,
        metrics: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        return await self._run(
            self.promotions.rollback(
                env=env,
                actor=actor,
                reason=reason,
                to_version=to_version,
                metrics=metrics,
                on_behalf_of=on_behalf_of,
            )
        )

    async def get_audit_chain(self, env: str) -> list[dict[str, Any]]:
        return await self._run(self.promotions.get_audit_chain(env))

    # ------------------------------------------------------------------ devices
    async def get_device_versions(
        self,
        device_type: str | None = None,
        region: str | None = None,
        snapshot_id: int | None = None,
    ) -> list[dict[str, Any]]:
        return await self._run(self.devices.get_device_versions(device_type, region, snapshot_id))

    async def update_device_heartbeat(
        self,
        device_id: str,
        device_type: str,
        snapshot_id: int | None = None,
        version: str | None = None,
        region: str = "global",
    ) -> None:
        await self._run(
            self.devices.update_device_heartbeat(
                device_id, device_type, snapshot_id, version, region
            )
        )

    # ------------------------------------------------------------------ helpers
    async def check_integrity(self) -> dict[str, Any]:
        return await self._run(check_integrity(self.engine))
