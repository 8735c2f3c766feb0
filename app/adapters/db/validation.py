"""Validation fixtures and runs (the seed's `PKGValidationDAO`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.db.engine import reading, writing
from app.adapters.db.tables import SnapshotRow, ValidationFixtureRow, ValidationRunRow, utcnow
from app.domain.errors import NotFoundError

RUN_COLUMNS = (
    ValidationRunRow.id,
    ValidationRunRow.snapshot_id,
    SnapshotRow.version,
    ValidationRunRow.started_at,
    ValidationRunRow.finished_at,
    ValidationRunRow.success,
    ValidationRunRow.report,
    ValidationRunRow.coverage,
)


class SqlValidationRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get_validation_fixtures(self, snapshot_id: int) -> list[dict[str, Any]]:
        query = (
            select(
                ValidationFixtureRow.id,
                ValidationFixtureRow.name,
                ValidationFixtureRow.input,
                ValidationFixtureRow.expect,
            )
            .where(ValidationFixtureRow.snapshot_id == snapshot_id)
            .order_by(ValidationFixtureRow.id)
        )
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    async def create_validation_run(
        self, snapshot_id: int, started_at: datetime | None = None
    ) -> int:
        async with writing(self.engine) as conn:
            result = await conn.execute(
                insert(ValidationRunRow)
                .values(snapshot_id=snapshot_id, started_at=started_at or utcnow())
                .returning(ValidationRunRow.id)
            )
            run_id: int = result.scalar_one()
            return run_id

    async def finish_validation_run(
        self,
        run_id: int,
        success: bool,
        report: dict[str, Any] | None = None,
        coverage: dict[str, Any] | None = None,
    ) -> None:
        async with writing(self.engine) as conn:
            result = await conn.execute(
                update(ValidationRunRow)
                .where(ValidationRunRow.id == run_id)
                .values(finished_at=utcnow(), success=success, report=report, coverage=coverage)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"validation run {run_id} does not exist")

    async def get_validation_runs(
        self, snapshot_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        query = _runs().order_by(ValidationRunRow.id.desc()).limit(limit)
        if snapshot_id is not None:
            query = query.where(ValidationRunRow.snapshot_id == snapshot_id)
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    async def get_validation_run(self, run_id: int) -> dict[str, Any] | None:
        async with reading(self.engine) as conn:
            row = (await conn.execute(_runs().where(ValidationRunRow.id == run_id))).first()
            return dict(row._mapping) if row else None


def _runs() -> Any:
    return select(*RUN_COLUMNS).join(SnapshotRow, SnapshotRow.id == ValidationRunRow.snapshot_id)


async def latest_run(conn: AsyncConnection, snapshot_id: int) -> dict[str, Any] | None:
    """The newest validation run of a snapshot, inside the caller's transaction."""
    query = (
        _runs()
        .where(ValidationRunRow.snapshot_id == snapshot_id)
        .order_by(ValidationRunRow.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None
