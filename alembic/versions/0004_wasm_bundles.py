"""OPA bundles: a wasm snapshot's data (on its artifact row, checksummed with the module), every
entrypoint it offers, the bundle's revision and strict builtin errors. On PostgreSQL
`pkg_check_integrity()` learns that a wasm snapshot's checksum covers module and data.

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INTEGRITY = """
    CREATE OR REPLACE FUNCTION pkg_check_integrity()
    RETURNS TABLE (problem text, snapshot_id integer, detail text)
    LANGUAGE sql STABLE AS $$
        SELECT 'cross_snapshot_emission', r.snapshot_id,
               format('rule %s emits subtask type %s of snapshot %s',
                      r.rule_name, st.name, st.snapshot_id)
        FROM pkg_rule_emissions e
        JOIN pkg_policy_rules r ON r.id = e.rule_id
        JOIN pkg_subtask_types st ON st.id = e.subtask_type_id
        WHERE st.snapshot_id <> r.snapshot_id
        UNION ALL
        SELECT 'multiple_active', NULL::integer,
               format('env %s has %s active snapshots', s.env, count(*))
        FROM pkg_snapshots s WHERE s.is_active GROUP BY s.env HAVING count(*) > 1
        UNION ALL
        SELECT 'artifact_checksum_mismatch', a.snapshot_id,
               format('artifact %s sha256 does not match its bytes', a.artifact_type)
        FROM pkg_snapshot_artifacts a
        WHERE a.sha256 <> encode(sha256(a.artifact_bytes), 'hex')
        UNION ALL
        SELECT 'checksum_mismatch', s.id,
               format('snapshot %s checksum does not match its wasm artifact', s.version)
        FROM pkg_snapshots s
        JOIN pkg_snapshot_artifacts a
          ON a.snapshot_id = s.id AND a.artifact_type = 'wasm_pack'
        WHERE s.engine = 'wasm' AND s.checksum <> encode(sha256({content}), 'hex')
    $$
"""


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    json_type = postgresql.JSONB() if _is_pg() else sa.JSON()
    with op.batch_alter_table("pkg_snapshots") as table:
        table.add_column(sa.Column("entrypoints", json_type))
        table.add_column(sa.Column("bundle_revision", sa.Text()))
        table.add_column(
            sa.Column(
                "strict_builtin_errors", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("pkg_snapshot_artifacts") as table:
        table.add_column(sa.Column("data_json", sa.LargeBinary()))
    if _is_pg():
        content = "a.artifact_bytes || coalesce(a.data_json, ''::bytea)"
        op.execute(_INTEGRITY.format(content=content))


def downgrade() -> None:
    if _is_pg():
        op.execute(_INTEGRITY.format(content="a.artifact_bytes"))
    with op.batch_alter_table("pkg_snapshot_artifacts") as table:
        table.drop_column("data_json")
    with op.batch_alter_table("pkg_snapshots") as table:
        table.drop_column("strict_builtin_errors")
        table.drop_column("bundle_revision")
        table.drop_column("entrypoints")
