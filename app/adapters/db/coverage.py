"""Production coverage counts (migration 0006): per (version, time bucket, replica) the rules
that fired and the decisions made. Each replica overwrites its own cumulative rows (its key
carries a per-process token), so a flush is idempotent and the fleet's figure is a SUM."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.db.engine import reading, writing
from app.adapters.db.tables import DecisionCountRow, RuleFireCountRow, utcnow


class SqlRuleCountRepository:
    """Implements `app.services.ports.RuleCountStore`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def flush_rule_counts(
        self, rules: list[dict[str, Any]], decisions: list[dict[str, Any]]
    ) -> None:
        async with writing(self.engine) as conn:
            await _upsert(conn, RuleFireCountRow, rules, ["version", "bucket", "replica", "rule"])
            await _upsert(conn, DecisionCountRow, decisions, ["version", "bucket", "replica"])

    async def rule_counts(self, version: str, *, since: datetime) -> list[dict[str, Any]]:
        """`{replica, rule, fired}` summed over the buckets from `since` on."""
        query = (
            select(
                RuleFireCountRow.replica,
                RuleFireCountRow.rule,
                func.sum(RuleFireCountRow.fired).label("fired"),
            )
            .where(RuleFireCountRow.version == version, RuleFireCountRow.bucket >= since)
            .group_by(RuleFireCountRow.replica, RuleFireCountRow.rule)
        )
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    async def decision_counts(self, version: str, *, since: datetime) -> list[dict[str, Any]]:
        """`{replica, decisions, errors}` summed over the buckets from `since` on."""
        query = (
            select(
                DecisionCountRow.replica,
                func.sum(DecisionCountRow.decisions).label("decisions"),
                func.sum(DecisionCountRow.errors).label("errors"),
            )
            .where(DecisionCountRow.version == version, DecisionCountRow.bucket >= since)
            .group_by(DecisionCountRow.replica)
        )
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]


async def _upsert(
    conn: AsyncConnection, row: Any, values: list[dict[str, Any]], keys: list[str]
) -> None:
    """One executemany INSERT ... ON CONFLICT DO UPDATE of every row's counters."""
    if not values:
        return
    now = utcnow()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(row)
    counters = [name for name in values[0] if name not in keys]
    changed = {name: statement.excluded[name] for name in [*counters, "updated_at"]}
    statement = statement.on_conflict_do_update(index_elements=keys, set_=changed)
    await conn.execute(statement, [{**value, "updated_at": now} for value in values])
