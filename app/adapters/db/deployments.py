"""Canary lanes, device telemetry and coverage (the seed's deployments and devices DAOs)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.db.engine import reading, writing
from app.adapters.db.tables import DeploymentRow, DeviceVersionRow, SnapshotRow, utcnow
from app.domain.errors import NotFoundError

DEPLOYMENT_COLUMNS = (
    DeploymentRow.id,
    DeploymentRow.snapshot_id,
    SnapshotRow.version,
    DeploymentRow.target,
    DeploymentRow.region,
    DeploymentRow.percent,
    DeploymentRow.is_active,
    DeploymentRow.mode,
    DeploymentRow.created_at,
    DeploymentRow.updated_at,
)


def target_device_type(target: str) -> str:
    """The device type a lane targets: `edge:door` → `door`, `router` → `router`."""
    return target.split(":", 1)[1] if ":" in target else target


class SqlDeploymentRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get_deployments(
        self,
        snapshot_id: int | None = None,
        target: str | None = None,
        region: str | None = None,
        active_only: bool = True,
    ) -> list[dict[str, Any]]:
        query = _deployments().order_by(DeploymentRow.id)
        if snapshot_id is not None:
            query = query.where(DeploymentRow.snapshot_id == snapshot_id)
        if target is not None:
            query = query.where(DeploymentRow.target == target)
        if region is not None:
            query = query.where(DeploymentRow.region == region)
        if active_only:
            query = query.where(DeploymentRow.is_active)
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

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
        async with writing(self.engine) as conn:
            snapshot_id = await _snapshot_id(conn, snapshot_version)
            now = utcnow()
            result = await conn.execute(
                insert(DeploymentRow)
                .values(
                    snapshot_id=snapshot_id,
                    target=target,
                    region=region,
                    percent=percent,
                    is_active=is_active,
                    mode=mode,
                    created_at=now,
                    updated_at=now,
                )
                .returning(DeploymentRow.id)
            )
            return await _deployment(conn, result.scalar_one())

    async def update_deployment(
        self,
        deployment_id: int,
        *,
        percent: int | None = None,
        is_active: bool | None = None,
        snapshot_version: str | None = None,
        mode: str | None = None,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if percent is not None:
            values["percent"] = percent
        if is_active is not None:
            values["is_active"] = is_active
        if mode is not None:
            values["mode"] = mode
        async with writing(self.engine) as conn:
            if snapshot_version is not None:
                values["snapshot_id"] = await _snapshot_id(conn, snapshot_version)
            result = await conn.execute(
                update(DeploymentRow).where(DeploymentRow.id == deployment_id).values(**values)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"deployment {deployment_id} does not exist")
            return await _deployment(conn, deployment_id)

    async def get_deployment_coverage(
        self, target: str | None = None, region: str | None = None
    ) -> list[dict[str, Any]]:
        """Per active lane: devices of the target type in the region, and how many run the
        lane's snapshot. A lane with no devices reports 0/0."""
        lanes = await self.get_deployments(target=target, region=region, active_only=True)
        query = select(
            DeviceVersionRow.device_type,
            DeviceVersionRow.region,
            DeviceVersionRow.snapshot_id,
            func.count(DeviceVersionRow.device_id),
        ).group_by(
            DeviceVersionRow.device_type, DeviceVersionRow.region, DeviceVersionRow.snapshot_id
        )
        async with reading(self.engine) as conn:
            counts = {(t, r, s): n for t, r, s, n in await conn.execute(query)}
        totals: Counter[tuple[str, str]] = Counter()
        for (device_type, device_region, _snapshot), n in counts.items():
            totals[(device_type, device_region)] += n
        return [
            {
                "deployment_id": lane["id"],
                "target": lane["target"],
                "region": lane["region"],
                "version": lane["version"],
                "snapshot_id": lane["snapshot_id"],
                "percent": lane["percent"],
                "devices_on_snapshot": counts.get(
                    (target_device_type(lane["target"]), lane["region"], lane["snapshot_id"]), 0
                ),
                "devices_total": totals[(target_device_type(lane["target"]), lane["region"])],
            }
            for lane in lanes
        ]


class SqlDeviceRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get_device_versions(
        self,
        device_type: str | None = None,
        region: str | None = None,
        snapshot_id: int | None = None,
    ) -> list[dict[str, Any]]:
        query = select(DeviceVersionRow.__table__).order_by(DeviceVersionRow.device_id)
        if device_type is not None:
            query = query.where(DeviceVersionRow.device_type == device_type)
        if region is not None:
            query = query.where(DeviceVersionRow.region == region)
        if snapshot_id is not None:
            query = query.where(DeviceVersionRow.snapshot_id == snapshot_id)
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    async def update_device_heartbeat(
        self,
        device_id: str,
        device_type: str,
        snapshot_id: int | None = None,
        version: str | None = None,
        region: str = "global",
    ) -> None:
        """Upsert what a device runs; a version alone is resolved to its snapshot id (and an
        id alone to its version)."""
        async with writing(self.engine) as conn:
            if snapshot_id is not None:
                query_v = select(SnapshotRow.version).where(SnapshotRow.id == snapshot_id)
                stored = (await conn.execute(query_v)).scalar_one_or_none()
                if stored is None:
                    raise NotFoundError(f"snapshot id {snapshot_id} does not exist")
                version = version or stored
            elif version is not None:
                query = select(SnapshotRow.id).where(SnapshotRow.version == version)
                snapshot_id = (await conn.execute(query)).scalar_one_or_none()
            values = {
                "device_id": device_id,
                "device_type": device_type,
                "region": region,
                "snapshot_id": snapshot_id,
                "version": version,
                "last_seen": utcnow(),
            }
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(DeviceVersionRow).values(**values)
            changed = {k: v for k, v in values.items() if k != "device_id"}
            await conn.execute(
                statement.on_conflict_do_update(index_elements=["device_id"], set_=changed)
            )


def _deployments() -> Any:
    return select(*DEPLOYMENT_COLUMNS).join(
        SnapshotRow, SnapshotRow.id == DeploymentRow.snapshot_id
    )


async def _deployment(conn: AsyncConnection, deployment_id: int) -> dict[str, Any]:
    row = (await conn.execute(_deployments().where(DeploymentRow.id == deployment_id))).one()
    return dict(row._mapping)


async def _snapshot_id(conn: AsyncConnection, version: str) -> int:
    query = select(SnapshotRow.id).where(SnapshotRow.version == version)
    snapshot_id: int | None = (await conn.execute(query)).scalar_one_or_none()
    if snapshot_id is None:
        raise NotFoundError(f"snapshot {version} does not exist")
    return snapshot_id
