"""`check_integrity`: what the database holds that it should not (the seed's
`pkg_check_integrity()`, done in Python so SQLite gets it too)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from app.adapters.db.engine import reading
from app.adapters.db.snapshots import load_snapshot
from app.adapters.db.tables import PolicyRuleRow, RuleEmissionRow, SnapshotRow, SubtaskTypeRow


async def check_integrity(engine: AsyncEngine) -> dict[str, Any]:
    """`{"ok": bool, "problems": [{"problem", "snapshot_id", "detail"}, ...]}`."""
    async with reading(engine) as conn:
        problems = [
            *[p async for p in _cross_snapshot_emissions(conn)],
            *[p async for p in _multiple_active(conn)],
            *[p async for p in _checksum_mismatches(conn)],
        ]
    return {"ok": not problems, "problems": problems}


async def _cross_snapshot_emissions(conn: Any) -> Any:
    subtask = aliased(SubtaskTypeRow)
    query = (
        select(
            PolicyRuleRow.snapshot_id, PolicyRuleRow.rule_name, subtask.name, subtask.snapshot_id
        )
        .join(RuleEmissionRow, RuleEmissionRow.rule_id == PolicyRuleRow.id)
        .join(subtask, subtask.id == RuleEmissionRow.subtask_type_id)
        .where(subtask.snapshot_id != PolicyRuleRow.snapshot_id)
    )
    for snapshot_id, rule_name, type_name, type_snapshot in await conn.execute(query):
        yield {
            "problem": "cross_snapshot_emission",
            "snapshot_id": snapshot_id,
            "detail": f"rule {rule_name} emits subtask type {type_name} of snapshot "
            f"{type_snapshot}",
        }


async def _multiple_active(conn: Any) -> Any:
    query = (
        select(SnapshotRow.env, func.count())
        .where(SnapshotRow.is_active)
        .group_by(SnapshotRow.env)
        .having(func.count() > 1)
    )
    for env, count in await conn.execute(query):
        yield {
            "problem": "multiple_active",
            "snapshot_id": None,
            "detail": f"env {env} has {count} active snapshots",
        }


async def _checksum_mismatches(conn: Any) -> Any:
    rows = await conn.execute(select(SnapshotRow.__table__).order_by(SnapshotRow.id))
    for row in [dict(r._mapping) for r in rows]:
        snapshot = await load_snapshot(conn, row)
        actual = snapshot.content_checksum()
        if actual != snapshot.checksum:
            yield {
                "problem": "checksum_mismatch",
                "snapshot_id": snapshot.id,
                "detail": f"snapshot {snapshot.version}: stored checksum {snapshot.checksum} "
                f"does not match its content {actual}",
            }
