"""Shadow-lane counters, promotion guards and their counters (migration 0005).

Each replica writes its own cumulative counts under its own key (`replica`: instance id plus a
per-process token), so a flush is an idempotent overwrite and the fleet's figure is a SUM.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.db.engine import reading, writing
from app.adapters.db.tables import GuardStatsRow, PromotionGuardRow, ShadowStatsRow, utcnow

SHADOW_COUNTERS = ("evaluated", "identical", "different", "errors", "dropped")
CLOSE_GRACE_S = 10.0
S = TypeVar("S", bound="SqlShadowRepository")
P = ParamSpec("P")
T = TypeVar("T")


def _shielded(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """Run the call to its end even when the caller is cancelled (a timeout): a SQL call
    cancelled halfway leaves a connection the pool must terminate (as `PKGClient._run`);
    `close` waits for such calls."""

    @functools.wraps(method)
    async def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.ensure_future(method(self, *args, **kwargs))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    return run


class SqlShadowRepository:
    """Implements `app.services.ports.ShadowStore`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._inflight: set[asyncio.Task[Any]] = set()

    async def close(self) -> None:
        """Let in-flight calls end (the engine belongs to the caller)."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=CLOSE_GRACE_S)

    # ------------------------------------------------------------------ shadow lanes
    @_shielded
    async def flush_shadow_stats(self, rows: list[dict[str, Any]]) -> None:
        """Upsert this replica's cumulative counts: one row per (lane, version)."""
        if not rows:
            return
        async with writing(self.engine) as conn:
            for row in rows:
                values = {**row, "updated_at": utcnow()}
                await _upsert(conn, ShadowStatsRow, values, ["deployment_id", "version", "replica"])

    @_shielded
    async def shadow_stats(
        self, *, deployment_id: int | None = None, version: str | None = None
    ) -> list[dict[str, Any]]:
        """Every replica's row for a lane and/or a shadow version."""
        query = select(ShadowStatsRow.__table__).order_by(ShadowStatsRow.replica)
        if deployment_id is not None:
            query = query.where(ShadowStatsRow.deployment_id == deployment_id)
        if version is not None:
            query = query.where(ShadowStatsRow.version == version)
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    # ------------------------------------------------------------------ guards
    @_shielded
    async def create_guard(
        self,
        *,
        promotion_id: int,
        env: str,
        version: str,
        from_version: str | None,
        config: dict[str, Any],
        watch_until: datetime,
    ) -> dict[str, Any]:
        now = utcnow()
        values = {
            "promotion_id": promotion_id,
            "env": env,
            "version": version,
            "from_version": from_version,
            "config": config,
            "watch_until": watch_until,
            "status": "watching",
            "created_at": now,
            "updated_at": now,
        }
        async with writing(self.engine) as conn:
            await conn.execute(insert(PromotionGuardRow).values(**values))
            return await _guard(conn, promotion_id)

    @_shielded
    async def watching_guards(self, env: str) -> list[dict[str, Any]]:
        query = (
            select(PromotionGuardRow.__table__)
            .where(PromotionGuardRow.env == env, PromotionGuardRow.status == "watching")
            .order_by(PromotionGuardRow.promotion_id)
        )
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    @_shielded
    async def get_guard(self, promotion_id: int) -> dict[str, Any] | None:
        async with reading(self.engine) as conn:
            row = (
                await conn.execute(
                    select(PromotionGuardRow.__table__).where(
                        PromotionGuardRow.promotion_id == promotion_id
                    )
                )
            ).first()
            return dict(row._mapping) if row is not None else None

    @_shielded
    async def flush_guard_stats(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        async with writing(self.engine) as conn:
            for row in rows:
                values = {**row, "updated_at": utcnow()}
                await _upsert(conn, GuardStatsRow, values, ["promotion_id", "replica"])

    @_shielded
    async def guard_totals(self, promotion_id: int) -> dict[str, int]:
        query = select(
            func.coalesce(func.sum(GuardStatsRow.decisions), 0),
            func.coalesce(func.sum(GuardStatsRow.errors), 0),
            func.count(GuardStatsRow.replica),
        ).where(GuardStatsRow.promotion_id == promotion_id)
        async with reading(self.engine) as conn:
            decisions, errors, replicas = (await conn.execute(query)).one()
        return {"decisions": int(decisions), "errors": int(errors), "replicas": int(replicas)}

    @_shielded
    async def decide_guard(
        self,
        promotion_id: int,
        *,
        status: str,
        outcome: dict[str, Any] | None = None,
        decided_by: str | None = None,
        from_status: str = "watching",
    ) -> bool:
        """Move a guard from `from_status` to `status`. True only for the one caller that did:
        the conditional UPDATE is what makes a guard act at most once across the fleet."""
        statement = (
            update(PromotionGuardRow)
            .where(
                PromotionGuardRow.promotion_id == promotion_id,
                PromotionGuardRow.status == from_status,
            )
            .values(status=status, outcome=outcome, decided_by=decided_by, updated_at=utcnow())
        )
        async with writing(self.engine) as conn:
            result = await conn.execute(statement)
            return bool(result.rowcount == 1)


async def _upsert(conn: AsyncConnection, row: Any, values: dict[str, Any], keys: list[str]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(row).values(**values)
    changed = {k: v for k, v in values.items() if k not in keys}
    await conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed))


async def _guard(conn: AsyncConnection, promotion_id: int) -> dict[str, Any]:
    query = select(PromotionGuardRow.__table__).where(
        PromotionGuardRow.promotion_id == promotion_id
    )
    return dict((await conn.execute(query)).one()._mapping)
