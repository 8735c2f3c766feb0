"""`pkg_decision_logs`: the decision log's database sink (batched inserts, reads, retention)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text, and_, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from app.adapters.db.engine import reading, writing
from app.adapters.db.tables import Base, BigId, JsonDoc, UtcDateTime
from app.domain.decision import DecisionRecord


class DecisionLogRow(Base):
    __tablename__ = "pkg_decision_logs"
    __table_args__ = (Index("ix_pkg_decision_logs_version_time", "version", "time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(64), unique=True)
    time: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    env: Mapped[str] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str | None] = mapped_column(Text)
    lane: Mapped[str | None] = mapped_column(Text)
    deployment_id: Mapped[int | None] = mapped_column(Integer)
    input: Mapped[Any] = mapped_column(JsonDoc)
    rules: Mapped[Any] = mapped_column(JsonDoc)
    subtasks: Mapped[Any] = mapped_column(JsonDoc)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(Text)
    instance: Mapped[str | None] = mapped_column(Text)
    redacted: Mapped[Any] = mapped_column(JsonDoc, nullable=True)  # 0007
    caller: Mapped[str | None] = mapped_column(Text, nullable=True)  # 0008


COLUMNS = tuple(
    getattr(DecisionLogRow, name)
    for name in (
        "decision_id",
        "time",
        "env",
        "version",
        "engine",
        "lane",
        "deployment_id",
        "input",
        "rules",
        "subtasks",
        "duration_ms",
        "outcome",
        "role",
        "instance",
        "redacted",
        "caller",
    )
)


def _values(record: DecisionRecord, *, postgres: bool) -> dict[str, Any]:
    values = {column.key: getattr(record, column.key) for column in COLUMNS}
    if postgres:  # JSONB cannot hold U+0000, and one such input must not sink a whole batch
        values["input"] = _without_nul(values["input"])
    return values


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _record(row: Any) -> DecisionRecord:
    return DecisionRecord(**dict(row._mapping))


def _keyed(row: Any) -> tuple[tuple[datetime, int], DecisionRecord]:
    values = dict(row._mapping)
    key = int(values.pop("id"))
    return (values["time"], key), DecisionRecord(**values)


class SqlDecisionStore:
    """Implements `app.services.ports.DecisionStore` on PostgreSQL and SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write(self, records: Sequence[DecisionRecord]) -> None:
        if not records:
            return
        postgres = self.engine.dialect.name == "postgresql"
        rows = [_values(r, postgres=postgres) for r in records]
        async with writing(self.engine) as conn:
            await conn.execute(insert(DecisionLogRow), rows)

    async def get(self, decision_id: str) -> DecisionRecord | None:
        query = select(*COLUMNS).where(DecisionLogRow.decision_id == decision_id)
        async with reading(self.engine) as conn:
            row = (await conn.execute(query)).first()
        return _record(row) if row is not None else None

    async def query(
        self, *, version: str | None, since: datetime | None, limit: int
    ) -> list[DecisionRecord]:
        query = select(*COLUMNS).order_by(DecisionLogRow.time.desc(), DecisionLogRow.id.desc())
        if version is not None:
            query = query.where(DecisionLogRow.version == version)
        if since is not None:
            query = query.where(DecisionLogRow.time >= since)
        async with reading(self.engine) as conn:
            rows = (await conn.execute(query.limit(limit))).all()
        return [_record(row) for row in rows]

    async def scan(
        self,
        *,
        env: str,
        since: datetime | None,
        until: datetime | None,
        version: str | None,
        before: tuple[datetime, int] | None,
        limit: int,
    ) -> list[tuple[tuple[datetime, int], DecisionRecord]]:
        """One page of records, newest first, after the keyset `before` (time, id): replay
        reads the log this way, page by page, never all of it at once."""
        row = DecisionLogRow
        query = select(row.id, *COLUMNS).where(row.env == env)
        if version is not None:
            query = query.where(row.version == version)
        if since is not None:
            query = query.where(row.time >= since)
        if until is not None:
            query = query.where(row.time < until)
        if before is not None:
            at, key = before
            query = query.where(or_(row.time < at, and_(row.time == at, row.id < key)))
        query = query.order_by(row.time.desc(), row.id.desc()).limit(limit)
        async with reading(self.engine) as conn:
            rows = (await conn.execute(query)).all()
        return [_keyed(row) for row in rows]

    async def delete_older_than(self, cutoff: datetime) -> int:
        async with writing(self.engine) as conn:
            result = await conn.execute(delete(DecisionLogRow).where(DecisionLogRow.time < cutoff))
        return int(result.rowcount or 0)
