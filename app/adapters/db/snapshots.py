"""Snapshots: read them back as `PKGSnapshotData`, store documents, list and delete them.

Rules, conditions and emissions are read in three queries and assembled in Python: the seed's
one big join multiplied each rule's conditions by its emissions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.db.engine import reading, writing
from app.adapters.db.snapshot_rows import (
    insert_fixtures,
    insert_rules,
    insert_snapshot,
    insert_subtask_types,
)
from app.adapters.db.tables import (
    DeploymentRow,
    PolicyRuleRow,
    PromotionRow,
    RuleConditionRow,
    RuleEmissionRow,
    SnapshotArtifactRow,
    SnapshotRow,
    SubtaskTypeRow,
)
from app.domain.document import Fixture, PolicyDocument
from app.domain.errors import ConflictError, NotFoundError
from app.domain.snapshot import Condition, Emission, PKGSnapshotData, Rule
from app.domain.trust import SnapshotSignature

SUMMARY_COLUMNS = (
    SnapshotRow.id,
    SnapshotRow.version,
    SnapshotRow.env,
    SnapshotRow.engine,
    SnapshotRow.checksum,
    SnapshotRow.is_active,
    SnapshotRow.created_at,
    SnapshotRow.activated_at,
    SnapshotRow.notes,
    SnapshotRow.checksum_scheme,
    SnapshotRow.signing_key_id,
)


class SqlSnapshotRepository:
    """The seed's `PKGSnapshotsDAO`, dialect-neutral."""

    def __init__(self, engine: AsyncEngine, *, env: str = "prod") -> None:
        self.engine = engine
        self.env = env

    # ------------------------------------------------------------------ reads
    async def get_active_snapshot(self, env: str | None = None) -> PKGSnapshotData | None:
        async with reading(self.engine) as conn:
            row = await _snapshot_row(conn, SnapshotRow.env == (env or self.env), active=True)
            return await load_snapshot(conn, row) if row else None

    async def get_snapshot_by_version(self, version: str) -> PKGSnapshotData | None:
        async with reading(self.engine) as conn:
            row = await _snapshot_row(conn, SnapshotRow.version == version)
            return await load_snapshot(conn, row) if row else None

    async def get_active_version(self, env: str) -> str | None:
        query = select(SnapshotRow.version).where(SnapshotRow.env == env, SnapshotRow.is_active)
        async with reading(self.engine) as conn:
            version: str | None = (await conn.execute(query)).scalar_one_or_none()
            return version

    async def get_active_artifact(self, env: str = "prod") -> dict[str, Any] | None:
        query = (
            select(
                SnapshotRow.env,
                SnapshotRow.id.label("snapshot_id"),
                SnapshotRow.version,
                SnapshotArtifactRow.artifact_type,
                func.length(SnapshotArtifactRow.artifact_bytes).label("size_bytes"),
                SnapshotArtifactRow.sha256,
                SnapshotArtifactRow.artifact_bytes,
            )
            .join(SnapshotArtifactRow, SnapshotArtifactRow.snapshot_id == SnapshotRow.id)
            .where(SnapshotRow.env == env, SnapshotRow.is_active)
            .order_by(SnapshotArtifactRow.artifact_type)
            .limit(1)
        )
        async with reading(self.engine) as conn:
            row = (await conn.execute(query)).first()
            return dict(row._mapping) if row else None

    async def get_summary(self, version: str) -> dict[str, Any] | None:
        rows = await self._summaries(SnapshotRow.version == version, limit=1, offset=0)
        return rows[0] if rows else None

    async def list_snapshots(
        self, env: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        where = SnapshotRow.env == env if env else None
        return await self._summaries(where, limit=limit, offset=offset)

    async def _summaries(self, where: Any, *, limit: int, offset: int) -> list[dict[str, Any]]:
        rules_count = (
            select(func.count(PolicyRuleRow.id))
            .where(PolicyRuleRow.snapshot_id == SnapshotRow.id)
            .scalar_subquery()
        )
        query = select(*SUMMARY_COLUMNS, rules_count.label("rules_count"))
        if where is not None:
            query = query.where(where)
        query = query.order_by(SnapshotRow.id.desc()).limit(limit).offset(offset)
        async with reading(self.engine) as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    # ------------------------------------------------------------------ writes
    async def create_snapshot(
        self, document: PolicyDocument, signature: SnapshotSignature | None = None
    ) -> PKGSnapshotData:
        """Store a validated document in one transaction and return it as read back."""
        try:
            async with writing(self.engine) as conn:
                if await _snapshot_row(conn, SnapshotRow.version == document.version):
                    raise ConflictError(f"snapshot {document.version} already exists")
                snapshot_id = await insert_snapshot(conn, document, signature)
                type_ids = await insert_subtask_types(conn, snapshot_id, document.subtask_types)
                await insert_rules(conn, snapshot_id, document.rules, type_ids)
                await insert_fixtures(conn, snapshot_id, document.fixtures)
        except IntegrityError as exc:
            raise ConflictError(f"snapshot {document.version} conflicts: {exc.orig}") from exc
        stored = await self.get_snapshot_by_version(document.version)
        if stored is None:  # pragma: no cover - we just committed it
            raise NotFoundError(f"snapshot {document.version} vanished after it was stored")
        return stored

    async def add_fixtures(self, snapshot_id: int, fixtures: Iterable[Fixture]) -> None:
        fixtures = list(fixtures)
        try:
            async with writing(self.engine) as conn:
                await insert_fixtures(conn, snapshot_id, fixtures)
        except IntegrityError as exc:
            names = ", ".join(f.name for f in fixtures)
            raise ConflictError(f"a fixture named one of {names} already exists") from exc

    async def delete_snapshot(self, version: str) -> None:
        """Delete a snapshot that was never active (audit rows keep the others forever)."""
        async with writing(self.engine) as conn:
            row = await _snapshot_row(conn, SnapshotRow.version == version)
            if row is None:
                raise NotFoundError(f"snapshot {version} does not exist")
            await _refuse_delete_if_used(conn, row)
            await conn.execute(delete(SnapshotRow).where(SnapshotRow.id == row["id"]))


async def _refuse_delete_if_used(conn: AsyncConnection, row: dict[str, Any]) -> None:
    version = row["version"]
    if row["is_active"] or row["activated_at"] is not None:
        raise ConflictError(f"snapshot {version} is or was active: it cannot be deleted")
    promoted = await conn.execute(
        select(PromotionRow.id)
        .where((PromotionRow.snapshot_id == row["id"]) | (PromotionRow.to_version == version))
        .limit(1)
    )
    if promoted.first() is not None:
        raise ConflictError(f"snapshot {version} was promoted once: it cannot be deleted")
    lanes = await conn.execute(
        select(DeploymentRow.id)
        .where(DeploymentRow.snapshot_id == row["id"], DeploymentRow.is_active)
        .limit(1)
    )
    if lanes.first() is not None:
        raise ConflictError(f"snapshot {version} serves an active deployment: close it first")


# ---------------------------------------------------------------------- reading helpers
async def _snapshot_row(
    conn: AsyncConnection, where: Any, *, active: bool = False
) -> dict[str, Any] | None:
    query = select(SnapshotRow.__table__).where(where)
    if active:
        query = query.where(SnapshotRow.is_active)
    row = (await conn.execute(query.limit(1))).first()
    return dict(row._mapping) if row else None


async def load_snapshot(conn: AsyncConnection, row: dict[str, Any]) -> PKGSnapshotData:
    """Assemble a snapshot row into `PKGSnapshotData`, with the checksum as stored."""
    snapshot_id: int = row["id"]
    subtask_types = await _load_subtask_types(conn, snapshot_id)
    artifact = (
        await conn.execute(
            select(SnapshotArtifactRow.artifact_bytes, SnapshotArtifactRow.data_json).where(
                SnapshotArtifactRow.snapshot_id == snapshot_id,
                SnapshotArtifactRow.artifact_type == "wasm_pack",
            )
        )
    ).first()
    return PKGSnapshotData(
        id=snapshot_id,
        version=row["version"],
        engine=row["engine"],
        wasm_artifact=artifact.artifact_bytes if artifact else None,
        checksum=row["checksum"],
        rules=await _load_rules(conn, snapshot_id),
        env=row["env"],
        entrypoint=row["entrypoint"],
        subtask_types=subtask_types,
        notes=row["notes"],
        checksum_scheme=row["checksum_scheme"],
        signature=row["signature"],
        signing_key_id=row["signing_key_id"],
        wasm_data=artifact.data_json if artifact else None,
        entrypoints=tuple(row.get("entrypoints") or ()),
        revision=row.get("bundle_revision"),
        strict_builtin_errors=bool(row.get("strict_builtin_errors")),
    )


async def _load_subtask_types(conn: AsyncConnection, snapshot_id: int) -> dict[str, Any]:
    rows = await conn.execute(
        select(SubtaskTypeRow.name, SubtaskTypeRow.default_params)
        .where(SubtaskTypeRow.snapshot_id == snapshot_id)
        .order_by(SubtaskTypeRow.name)
    )
    return {name: {"default_params": params or {}} for name, params in rows}


async def _load_rules(conn: AsyncConnection, snapshot_id: int) -> list[Rule]:
    rule_rows = await conn.execute(
        select(
            PolicyRuleRow.id,
            PolicyRuleRow.rule_name,
            PolicyRuleRow.priority,
            PolicyRuleRow.disabled,
            PolicyRuleRow.rule_metadata.label("rule_metadata"),
        )
        .where(PolicyRuleRow.snapshot_id == snapshot_id)
        .order_by(PolicyRuleRow.position, PolicyRuleRow.rule_name)
    )
    conditions: dict[str, list[Condition]] = defaultdict(list)
    condition_rows = await conn.execute(
        select(
            RuleConditionRow.rule_id,
            RuleConditionRow.condition_type,
            RuleConditionRow.condition_key,
            RuleConditionRow.operator,
            RuleConditionRow.value,
            RuleConditionRow.position,
        )
        .join(PolicyRuleRow, PolicyRuleRow.id == RuleConditionRow.rule_id)
        .where(PolicyRuleRow.snapshot_id == snapshot_id)
        .order_by(RuleConditionRow.rule_id, RuleConditionRow.position, RuleConditionRow.id)
    )
    for c in condition_rows:
        conditions[c.rule_id].append(
            {
                "condition_type": c.condition_type,
                "condition_key": c.condition_key,
                "operator": c.operator,
                "value": c.value,
                "position": c.position,
            }
        )
    emissions = await _load_emissions(conn, snapshot_id)
    return [
        {
            "id": r.id,
            "rule_name": r.rule_name,
            "priority": r.priority,
            "disabled": bool(r.disabled),
            "metadata": dict(r.rule_metadata or {}),
            "conditions": conditions.get(r.id, []),
            "emissions": emissions.get(r.id, []),
        }
        for r in rule_rows
    ]


async def _load_emissions(conn: AsyncConnection, snapshot_id: int) -> dict[str, list[Emission]]:
    rows = await conn.execute(
        select(
            RuleEmissionRow.rule_id,
            SubtaskTypeRow.name.label("subtask_type"),
            RuleEmissionRow.name,
            RuleEmissionRow.relationship_type,
            RuleEmissionRow.params,
            RuleEmissionRow.position,
        )
        .join(PolicyRuleRow, PolicyRuleRow.id == RuleEmissionRow.rule_id)
        .join(SubtaskTypeRow, SubtaskTypeRow.id == RuleEmissionRow.subtask_type_id)
        .where(PolicyRuleRow.snapshot_id == snapshot_id)
        .order_by(RuleEmissionRow.rule_id, RuleEmissionRow.position, RuleEmissionRow.id)
    )
    emissions: dict[str, list[Emission]] = defaultdict(list)
    for e in rows:
        emissions[e.rule_id].append(
            {
                "subtask_type": e.subtask_type,
                "name": e.name or e.subtask_type,
                "relationship_type": e.relationship_type,
                "params": dict(e.params or {}),
                "position": e.position,
            }
        )
    return emissions
