"""PKG schema: the seed's tables, enums, one-active-per-env index; on PostgreSQL also the views
and functions (fixed as DESIGN.md §9 says).

Self-contained on purpose (it does not import the application's models): a revision must keep
creating what it created the day it was written.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS: dict[str, tuple[str, ...]] = {
    "pkg_env": ("prod", "staging", "dev"),
    "pkg_engine": ("native", "wasm"),
    "pkg_artifact_type": ("wasm_pack", "rego_bundle"),
    "pkg_condition_type": ("TAG", "SIGNAL", "FACT", "VALUE"),
    "pkg_operator": ("=", "!=", ">=", "<=", ">", "<", "IN", "EXISTS", "MATCHES"),
    "pkg_relation": ("EMITS", "ORDERS", "GATE"),
}
TABLES = (
    "pkg_snapshots",
    "pkg_snapshot_artifacts",
    "pkg_subtask_types",
    "pkg_policy_rules",
    "pkg_rule_conditions",
    "pkg_rule_emissions",
    "pkg_deployments",
    "pkg_validation_fixtures",
    "pkg_validation_runs",
    "pkg_promotions",
    "pkg_device_versions",
)
VIEWS = ("pkg_deployment_coverage", "pkg_rules_expanded", "pkg_active_artifact")
FUNCTIONS = (
    "pkg_promote_snapshot(integer, text, text, text)",
    "pkg_active_snapshot_id(text)",
    "pkg_check_integrity()",
)


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _enum(name: str) -> sa.types.TypeEngine[str]:
    if _is_pg():
        return postgresql.ENUM(*ENUMS[name], name=name, create_type=False)
    return sa.Enum(*ENUMS[name], name=name, native_enum=False, create_constraint=True)


def _json() -> sa.types.TypeEngine[object]:
    return postgresql.JSONB() if _is_pg() else sa.JSON()


def _hex64(column: str, name: str) -> sa.CheckConstraint:
    if _is_pg():
        return sa.CheckConstraint(f"{column} ~ '^[0-9a-f]{{64}}$'", name=op.f(name))
    return sa.CheckConstraint(
        f"length({column}) = 64 AND {column} NOT GLOB '*[^0-9a-f]*'", name=op.f(name)
    )


def _bigid() -> sa.Column[int]:
    kind = sa.BigInteger() if _is_pg() else sa.Integer()
    return sa.Column("id", kind, primary_key=True, autoincrement=True)


def _snapshot_fk(ondelete: str = "CASCADE", *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        "snapshot_id",
        sa.Integer(),
        sa.ForeignKey("pkg_snapshots.id", ondelete=ondelete),
        nullable=nullable,
        index=True,
    )


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    default = None if nullable else sa.func.now()
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def _flag(name: str, default: bool) -> sa.Column[bool]:
    return sa.Column(
        name, sa.Boolean(), nullable=False, server_default=sa.true() if default else sa.false()
    )


def upgrade() -> None:
    if _is_pg():
        bind = op.get_bind()
        for name, values in ENUMS.items():
            postgresql.ENUM(*values, name=name).create(bind, checkfirst=True)
    _create_tables()
    if _is_pg():
        for statement in (*PG_VIEWS, *PG_FUNCTIONS):
            op.execute(statement)


def _create_tables() -> None:
    op.create_table(
        "pkg_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.Text(), nullable=False, unique=True),
        sa.Column("env", _enum("pkg_env"), nullable=False, server_default="prod"),
        sa.Column("engine", _enum("pkg_engine"), nullable=False, server_default="native"),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("entrypoint", sa.Text()),
        sa.Column("notes", sa.Text()),
        _flag("is_active", False),
        _timestamp("created_at"),
        _timestamp("activated_at", nullable=True),
        _hex64("checksum", "ck_pkg_snapshots_checksum_hex64"),
    )
    op.create_index(
        "uq_pkg_snapshots_one_active_per_env",
        "pkg_snapshots",
        ["env"],
        unique=True,
        postgresql_where=sa.text("is_active"),
        sqlite_where=sa.text("is_active"),
    )
    op.create_table(
        "pkg_snapshot_artifacts",
        sa.Column(
            "snapshot_id",
            sa.Integer(),
            sa.ForeignKey("pkg_snapshots.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("artifact_type", _enum("pkg_artifact_type"), primary_key=True),
        sa.Column("artifact_bytes", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _hex64("sha256", "ck_pkg_snapshot_artifacts_sha256_hex64"),
    )
    op.create_table(
        "pkg_subtask_types",
        sa.Column("id", sa.String(64), primary_key=True),
        _snapshot_fk(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("default_params", _json(), nullable=False, server_default="{}"),
        sa.UniqueConstraint("snapshot_id", "name", name="uq_pkg_subtask_types_snapshot_id"),
    )
    op.create_table(
        "pkg_policy_rules",
        sa.Column("id", sa.String(64), primary_key=True),
        _snapshot_fk(),
        sa.Column("rule_name", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="100"),
        sa.Column("rule_source", sa.Text()),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        _flag("disabled", False),
        sa.Column("metadata", _json(), nullable=False, server_default="{}"),
    )
    rule_fk = sa.ForeignKey("pkg_policy_rules.id", ondelete="CASCADE")
    op.create_table(
        "pkg_rule_conditions",
        _bigid(),
        sa.Column("rule_id", sa.String(64), rule_fk, nullable=False, index=True),
        sa.Column("condition_type", _enum("pkg_condition_type"), nullable=False),
        sa.Column("condition_key", sa.Text()),
        sa.Column("operator", _enum("pkg_operator"), nullable=False),
        sa.Column("value", sa.Text()),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "pkg_rule_emissions",
        _bigid(),
        sa.Column(
            "rule_id",
            sa.String(64),
            sa.ForeignKey("pkg_policy_rules.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "subtask_type_id",
            sa.String(64),
            sa.ForeignKey("pkg_subtask_types.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.Text()),
        sa.Column(
            "relationship_type", _enum("pkg_relation"), nullable=False, server_default="EMITS"
        ),
        sa.Column("params", _json(), nullable=False, server_default="{}"),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "pkg_deployments",
        _bigid(),
        _snapshot_fk(),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False, server_default="global"),
        sa.Column("percent", sa.Integer(), nullable=False, server_default="0"),
        _flag("is_active", True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "percent BETWEEN 0 AND 100", name=op.f("ck_pkg_deployments_percent_range")
        ),
    )
    op.create_table(
        "pkg_validation_fixtures",
        _bigid(),
        _snapshot_fk(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("input", _json(), nullable=False),
        sa.Column("expect", _json(), nullable=False),
        _timestamp("created_at"),
        sa.UniqueConstraint("snapshot_id", "name", name="uq_pkg_validation_fixtures_snapshot_id"),
    )
    op.create_table(
        "pkg_validation_runs",
        _bigid(),
        _snapshot_fk(),
        _timestamp("started_at"),
        _timestamp("finished_at", nullable=True),
        sa.Column("success", sa.Boolean()),
        sa.Column("report", _json()),
    )
    op.create_table(
        "pkg_promotions",
        _bigid(),
        _snapshot_fk("RESTRICT"),
        sa.Column("env", _enum("pkg_env"), nullable=False),
        sa.Column("from_version", sa.Text()),
        sa.Column("to_version", sa.Text()),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False, server_default="promote"),
        sa.Column("reason", sa.Text()),
        sa.Column("metrics", _json()),
        _flag("success", True),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "action IN ('promote', 'rollback')", name=op.f("ck_pkg_promotions_action_kind")
        ),
    )
    op.create_index("ix_pkg_promotions_env_id", "pkg_promotions", ["env", "id"])
    op.create_table(
        "pkg_device_versions",
        sa.Column("device_id", sa.Text(), primary_key=True),
        sa.Column("device_type", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False, server_default="global"),
        _snapshot_fk("SET NULL", nullable=True),
        sa.Column("version", sa.Text()),
        _timestamp("last_seen"),
    )
    op.create_index(
        "ix_pkg_device_versions_type_region", "pkg_device_versions", ["device_type", "region"]
    )


def downgrade() -> None:
    if _is_pg():
        for view in VIEWS:
            op.execute(f"DROP VIEW IF EXISTS {view}")
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for table in reversed(TABLES):
        op.drop_table(table)
    if _is_pg():
        for name in ENUMS:
            op.execute(f"DROP TYPE IF EXISTS {name}")


# The device type a lane targets: `edge:door` → `door`, `router` → `router`.
_TARGET_DEVICE_TYPE = (
    "CASE WHEN strpos(d.target, ':') > 0 THEN split_part(d.target, ':', 2) ELSE d.target END"
)

PG_VIEWS = (
    """
    CREATE VIEW pkg_active_artifact AS
    SELECT s.env, s.id AS snapshot_id, s.version, a.artifact_type,
           octet_length(a.artifact_bytes) AS size_bytes, a.sha256
    FROM pkg_snapshots s
    JOIN pkg_snapshot_artifacts a ON a.snapshot_id = s.id
    WHERE s.is_active
    """,
    """
    CREATE VIEW pkg_rules_expanded AS
    SELECT s.env, s.id AS snapshot_id, s.version, r.id AS rule_id, r.rule_name, r.priority,
           r.disabled, e.position AS emission_position, e.relationship_type,
           st.name AS subtask_type, COALESCE(e.name, st.name) AS emission_name, e.params
    FROM pkg_policy_rules r
    JOIN pkg_snapshots s ON s.id = r.snapshot_id
    LEFT JOIN pkg_rule_emissions e ON e.rule_id = r.id
    LEFT JOIN pkg_subtask_types st ON st.id = e.subtask_type_id
    """,
    # counts dv.device_id (a lane with no devices shows 0/0, not 1) and matches `edge:door`
    # to device type `door`
    f"""
    CREATE VIEW pkg_deployment_coverage AS
    SELECT d.id AS deployment_id, d.target, d.region, s.version, d.snapshot_id, d.percent,
           COUNT(dv.device_id) FILTER (WHERE dv.snapshot_id = d.snapshot_id)
               AS devices_on_snapshot,
           COUNT(dv.device_id) AS devices_total
    FROM pkg_deployments d
    JOIN pkg_snapshots s ON s.id = d.snapshot_id
    LEFT JOIN pkg_device_versions dv
           ON dv.device_type = ({_TARGET_DEVICE_TYPE}) AND dv.region = d.region
    WHERE d.is_active
    GROUP BY d.id, d.target, d.region, s.version, d.snapshot_id, d.percent
    """,
)

PG_FUNCTIONS = (
    """
    CREATE FUNCTION pkg_active_snapshot_id(p_env text) RETURNS integer
    LANGUAGE sql STABLE AS $$
        SELECT s.id FROM pkg_snapshots s WHERE s.env = p_env::pkg_env AND s.is_active
    $$
    """,
    """
    CREATE FUNCTION pkg_check_integrity()
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
        WHERE s.engine = 'wasm' AND s.checksum <> encode(sha256(a.artifact_bytes), 'hex')
    $$
    """,
    # checks the snapshot belongs to p_env (the seed's did not), serializes per env,
    # deactivates, activates and audits in the caller's transaction
    """
    CREATE FUNCTION pkg_promote_snapshot(
        p_snapshot_id integer, p_env text, p_actor text, p_reason text DEFAULT NULL
    ) RETURNS bigint
    LANGUAGE plpgsql AS $$
    DECLARE
        v_version text;
        v_env pkg_env;
        v_previous text;
        v_promotion_id bigint;
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('pkg_promote:' || p_env));
        SELECT s.version, s.env INTO v_version, v_env
        FROM pkg_snapshots s WHERE s.id = p_snapshot_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'snapshot % does not exist', p_snapshot_id
                USING ERRCODE = 'no_data_found';
        END IF;
        IF v_env::text <> p_env THEN
            RAISE EXCEPTION 'snapshot % belongs to env %, not %', v_version, v_env, p_env
                USING ERRCODE = 'check_violation';
        END IF;
        SELECT s.version INTO v_previous
        FROM pkg_snapshots s WHERE s.env = v_env AND s.is_active;
        UPDATE pkg_snapshots s SET is_active = false
        WHERE s.env = v_env AND s.is_active AND s.id <> p_snapshot_id;
        UPDATE pkg_snapshots s SET is_active = true, activated_at = now()
        WHERE s.id = p_snapshot_id;
        INSERT INTO pkg_promotions
            (snapshot_id, env, from_version, to_version, actor, action, reason, success)
        VALUES (p_snapshot_id, v_env, v_previous, v_version, p_actor, 'promote', p_reason, true)
        RETURNING id INTO v_promotion_id;
        RETURN v_promotion_id;
    END
    $$
    """,
)
