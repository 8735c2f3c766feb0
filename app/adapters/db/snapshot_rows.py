"""A policy document → the rows that store it (inside the caller's transaction)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.adapters.db.tables import (
    PolicyRuleRow,
    RuleConditionRow,
    RuleEmissionRow,
    SnapshotArtifactRow,
    SnapshotRow,
    SubtaskTypeRow,
    ValidationFixtureRow,
    utcnow,
)
from app.domain.document import Fixture, PolicyDocument
from app.domain.errors import DocumentError, FieldError
from app.domain.snapshot import Rule, encode_value
from app.domain.trust import SnapshotSignature


async def insert_snapshot(
    conn: AsyncConnection, document: PolicyDocument, signature: SnapshotSignature | None = None
) -> int:
    result = await conn.execute(
        insert(SnapshotRow)
        .values(
            version=document.version,
            env=document.env,
            engine=document.engine,
            checksum=document.checksum,
            entrypoint=document.entrypoint,
            notes=document.notes,
            entrypoints=list(document.wasm.entrypoints) or None,
            bundle_revision=document.wasm.revision,
            strict_builtin_errors=document.wasm.strict_builtin_errors,
            is_active=False,
            created_at=utcnow(),
            checksum_scheme=document.checksum_scheme,
            signature=signature.value if signature else None,
            signing_key_id=signature.key_id if signature else None,
        )
        .returning(SnapshotRow.id)
    )
    snapshot_id: int = result.scalar_one()
    if document.wasm_artifact is not None:
        await conn.execute(
            insert(SnapshotArtifactRow).values(
                snapshot_id=snapshot_id,
                artifact_type="wasm_pack",
                artifact_bytes=document.wasm_artifact,
                sha256=hashlib.sha256(document.wasm_artifact).hexdigest(),
                data_json=document.wasm.data,
                created_at=utcnow(),
            )
        )
    return snapshot_id


async def insert_subtask_types(
    conn: AsyncConnection, snapshot_id: int, subtask_types: dict[str, dict[str, Any]]
) -> dict[str, str]:
    ids = {name: str(uuid.uuid4()) for name in subtask_types}
    if ids:
        await conn.execute(
            insert(SubtaskTypeRow),
            [
                {
                    "id": ids[name],
                    "snapshot_id": snapshot_id,
                    "name": name,
                    "default_params": dict(spec.get("default_params") or {}),
                }
                for name, spec in subtask_types.items()
            ],
        )
    return ids


async def insert_rules(
    conn: AsyncConnection, snapshot_id: int, rules: list[Rule], type_ids: dict[str, str]
) -> None:
    rule_rows: list[dict[str, Any]] = []
    condition_rows: list[dict[str, Any]] = []
    emission_rows: list[dict[str, Any]] = []
    for index, rule in enumerate(rules):
        rule_id = str(rule.get("id") or uuid.uuid4())
        rule_rows.append(
            {
                "id": rule_id,
                "snapshot_id": snapshot_id,
                "rule_name": rule["rule_name"],
                "priority": rule.get("priority", 100),
                "rule_source": rule.get("rule_source"),
                "position": index,
                "disabled": bool(rule.get("disabled", False)),
                "metadata": dict(rule.get("metadata") or {}),  # column name, not attribute
            }
        )
        condition_rows.extend(_condition_rows(rule_id, rule))
        emission_rows.extend(_emission_rows(rule_id, rule, type_ids))
    for row_type, rows in (
        (PolicyRuleRow, rule_rows),
        (RuleConditionRow, condition_rows),
        (RuleEmissionRow, emission_rows),
    ):
        if rows:
            await conn.execute(insert(row_type), rows)


def _condition_rows(rule_id: str, rule: Rule) -> list[dict[str, Any]]:
    return [
        {
            "rule_id": rule_id,
            "condition_type": c["condition_type"],
            "condition_key": c.get("condition_key"),
            "operator": c["operator"],
            "value": _as_text(c.get("value")),
            "position": c.get("position", index),
        }
        for index, c in enumerate(rule.get("conditions") or [])
    ]


def _as_text(value: Any) -> str | None:
    """Condition values are stored as TEXT; a document already encodes them, raw ones we do."""
    return value if value is None or isinstance(value, str) else encode_value(value)


def _emission_rows(rule_id: str, rule: Rule, type_ids: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for index, e in enumerate(rule.get("emissions") or []):
        type_id = type_ids.get(e["subtask_type"])
        if type_id is None:
            loc = f"rules[{rule['rule_name']}].emissions[{index}].subtask_type"
            raise DocumentError([FieldError(loc, f"unknown subtask type {e['subtask_type']!r}")])
        rows.append(
            {
                "rule_id": rule_id,
                "subtask_type_id": type_id,
                "name": e.get("name") or e["subtask_type"],
                "relationship_type": e.get("relationship_type", "EMITS"),
                "params": dict(e.get("params") or {}),
                "position": e.get("position", index),
            }
        )
    return rows


async def insert_fixtures(
    conn: AsyncConnection, snapshot_id: int, fixtures: Iterable[Fixture]
) -> None:
    rows = [
        {
            "snapshot_id": snapshot_id,
            "name": f.name,
            "input": dict(f.input),
            "expect": dict(f.expect),
            "created_at": utcnow(),
        }
        for f in fixtures
    ]
    if rows:
        await conn.execute(insert(ValidationFixtureRow), rows)


async def mark_active(conn: AsyncConnection, *, env: str, snapshot_id: int) -> None:
    """Deactivate the env's active snapshot, then activate `snapshot_id` (caller's transaction)."""
    await conn.execute(
        update(SnapshotRow)
        .where(SnapshotRow.env == env, SnapshotRow.is_active, SnapshotRow.id != snapshot_id)
        .values(is_active=False)
    )
    await conn.execute(
        update(SnapshotRow)
        .where(SnapshotRow.id == snapshot_id)
        .values(is_active=True, activated_at=utcnow())
    )
