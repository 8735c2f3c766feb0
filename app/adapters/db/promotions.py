"""Promotions, rollbacks and their audit trail (the seed's `PKGPromotionsDAO`).

A promotion is one transaction: lock the env, check, deactivate the active snapshot, activate
the target, write the audit row. Concurrent promotions of one env serialize: on PostgreSQL on
`pg_advisory_xact_lock(hashtext('pkg_promote:' || env))` (the same lock the SQL function
`pkg_promote_snapshot` takes), on SQLite on the database write lock taken by `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.db.engine import reading, writing
from app.adapters.db.snapshot_rows import mark_active
from app.adapters.db.tables import PromotionRow, SnapshotRow, utcnow
from app.adapters.db.validation import latest_run
from app.domain.errors import ConflictError, NotFoundError, PromotionRefusedError
from app.domain.trust import audit_row_hash, next_link

# signs an audit row's covered fields: (key id, base64 signature); None leaves rows unsigned
AuditSigner = Callable[[Mapping[str, Any]], tuple[str, str]]


class SqlPromotionRepository:
    def __init__(
        self, engine: AsyncEngine, *, env: str = "prod", audit_signer: AuditSigner | None = None
    ) -> None:
        self.engine = engine
        self.env = env
        self.audit_signer = audit_signer

    async def get_audit_chain(self, env: str) -> list[dict[str, Any]]:
        """Every audit row of `env`, oldest first (what `verify_chain` walks)."""
        query = select(PromotionRow.__table__).where(PromotionRow.env == env)
        async with reading(self.engine) as conn:
            rows = await conn.execute(query.order_by(PromotionRow.id))
            return [dict(row._mapping) for row in rows]

    async def get_promotions(
        self, snapshot_id: int | None = None, env: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The audit trail, newest first."""
        query = select(PromotionRow.__table__).order_by(PromotionRow.id.desc()).limit(limit)
        if snapshot_id is not None:
            query = query.where(PromotionRow.snapshot_id == snapshot_id)
        if env is not None:
            query = query.where(PromotionRow.env == env)
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

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
        """Write a bare audit row (the seed's API); `promote` is what changes what is active."""
        async with writing(self.engine) as conn:
            query = select(SnapshotRow.version, SnapshotRow.env).where(
                SnapshotRow.id == snapshot_id
            )
            row = (await conn.execute(query)).first()
            if row is None:
                raise NotFoundError(f"snapshot {snapshot_id} does not exist")
            await _lock_env(conn, row.env)  # the chain's head is read and extended under it
            return await _audit(
                conn,
                self.audit_signer,
                on_behalf_of=on_behalf_of,
                snapshot_id=snapshot_id,
                env=row.env,
                from_version=None,
                to_version=row.version,
                actor=actor,
                action=action,
                reason=reason,
                metrics=metrics,
                success=success,
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
        async with writing(self.engine) as conn:
            await _lock_env(conn, env)
            target = await _target(conn, version, env=env)
            run = await latest_run(conn, target["id"])
            if not force and not (run and run["success"]):
                why = "was never validated" if run is None else "did not pass its latest validation"
                raise PromotionRefusedError(
                    f"snapshot {version} {why}; validate it or promote with force"
                )
            audit = {**(metrics or {}), "forced": force, "validation_run_id": run and run["id"]}
            return await _switch(
                conn, target, env=env, actor=actor, reason=reason, action="promote", metrics=audit,
                trail=_Trail(self.audit_signer, on_behalf_of),
            )  # fmt: skip

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
        """Undo the newest promotion not yet undone (so rollbacks walk the history back:
        v1→v2→v3, rollback → v2, rollback → v1), or go to a named `to_version` (a switch that a
        later rollback undoes like a promotion). The audit row of an undo names the promotion
        it undid in `metrics.undoes`."""
        async with writing(self.engine) as conn:
            await _lock_env(conn, env)
            audit: dict[str, Any] = {**(metrics or {}), "forced": False}
            if to_version is None:
                undone = await _newest_not_undone(conn, env)
                to_version, audit["undoes"] = undone.from_version, undone.id
            target = await _target(conn, to_version, env=env)
            return await _switch(
                conn, target, env=env, actor=actor, reason=reason, action="rollback", metrics=audit,
                trail=_Trail(self.audit_signer, on_behalf_of),
            )  # fmt: skip


async def _lock_env(conn: AsyncConnection, env: str) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"pkg_promote:{env}"}
        )
    # SQLite: the transaction began with BEGIN IMMEDIATE, so it already holds the write lock


async def _target(conn: AsyncConnection, version: str, *, env: str) -> dict[str, Any]:
    query = select(SnapshotRow.__table__).where(SnapshotRow.version == version)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFoundError(f"snapshot {version} does not exist")
    target = dict(row._mapping)
    if target["env"] != env:
        raise PromotionRefusedError(f"snapshot {version} belongs to env {target['env']}, not {env}")
    if target["is_active"]:
        raise ConflictError(f"snapshot {version} is already active in {env}")
    return target


async def _active_version(conn: AsyncConnection, env: str) -> str | None:
    query = select(SnapshotRow.version).where(SnapshotRow.env == env, SnapshotRow.is_active)
    version: str | None = (await conn.execute(query)).scalar_one_or_none()
    return version


@dataclass(frozen=True)
class _Switch:
    id: int
    from_version: str


async def _newest_not_undone(conn: AsyncConnection, env: str) -> _Switch:
    """The env's audit trail read as a stack: promotions (and named rollbacks) push, each undo
    pops the newest entry it names. What a rollback undoes now is the top of that stack."""
    active = await _active_version(conn, env)
    if active is None:
        raise PromotionRefusedError(f"nothing to roll back to: no active snapshot in {env}")
    query = (
        select(PromotionRow.id, PromotionRow.from_version, PromotionRow.metrics)
        .where(PromotionRow.env == env, PromotionRow.success)
        .order_by(PromotionRow.id.desc())
    )
    undone: set[int] = set()
    for row in await conn.execute(query):
        metrics = row.metrics or {}
        if "forced" not in metrics:
            continue  # a bare audit row (the seed's `create_promotion`) switched nothing
        if metrics.get("undoes") is not None:
            undone.add(int(metrics["undoes"]))
        elif row.id not in undone:
            if row.from_version is None:
                break
            return _Switch(row.id, row.from_version)
    raise PromotionRefusedError(f"nothing to roll back to: {active} has no predecessor")


async def _switch(
    conn: AsyncConnection,
    target: dict[str, Any],
    *,
    env: str,
    actor: str,
    reason: str | None,
    action: str,
    metrics: dict[str, Any],
    trail: _Trail | None = None,
) -> dict[str, Any]:
    trail = trail or _Trail(None, None)
    previous = await _active_version(conn, env)
    await mark_active(conn, env=env, snapshot_id=target["id"])
    promotion_id = await _audit(
        conn,
        trail.signer,
        on_behalf_of=trail.on_behalf_of,
        snapshot_id=target["id"],
        env=env,
        from_version=previous,
        to_version=target["version"],
        actor=actor,
        action=action,
        reason=reason,
        metrics=metrics,
        success=True,
    )
    row = await conn.execute(select(PromotionRow.__table__).where(PromotionRow.id == promotion_id))
    return dict(row.one()._mapping)


@dataclass(frozen=True)
class _Trail:
    """How an audit row is written: who signs it, and for whom the caller said it acted."""

    signer: AuditSigner | None
    on_behalf_of: str | None


async def _audit(conn: AsyncConnection, signer: AuditSigner | None, **values: Any) -> int:
    """Append a row to its env's hash chain. The caller holds the env's promotion lock, so
    the chain's head cannot move between reading it and writing after it."""
    seq, prev_hash = next_link(await _chain_head(conn, values["env"]))
    result = await conn.execute(
        insert(PromotionRow)
        .values(created_at=utcnow(), chain_seq=seq, prev_hash=prev_hash, **values)
        .returning(PromotionRow.id)
    )
    promotion_id: int = result.scalar_one()
    # hash what the database holds (timestamps and JSON as they read back), not what we sent
    stored = await conn.execute(
        select(PromotionRow.__table__).where(PromotionRow.id == promotion_id)
    )
    row = dict(stored.one()._mapping)
    key_id, signature = signer(row) if signer is not None else (None, None)
    await conn.execute(
        update(PromotionRow)
        .where(PromotionRow.id == promotion_id)
        .values(row_hash=audit_row_hash(row), signature=signature, signing_key_id=key_id)
    )
    return promotion_id


async def _chain_head(conn: AsyncConnection, env: str) -> dict[str, Any] | None:
    query = (
        select(PromotionRow.chain_seq, PromotionRow.row_hash)
        .where(PromotionRow.env == env, PromotionRow.row_hash.is_not(None))
        .order_by(PromotionRow.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None
