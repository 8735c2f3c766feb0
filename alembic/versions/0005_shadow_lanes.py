"""Shadow lanes and guarded promotions: `pkg_deployments.mode`, per-replica shadow and guard
counters, and the guards themselves.

Self-contained on purpose (it does not import the application's models).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODE_CHECK = "mode IN ('canary', 'shadow')"
GUARD_STATUS_CHECK = "status IN ('watching', 'passed', 'rolled_back', 'superseded')"


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _json() -> sa.types.TypeEngine[object]:
    return postgresql.JSONB() if _is_pg() else sa.JSON()


def _bigint() -> sa.types.TypeEngine[int]:
    return sa.BigInteger() if _is_pg() else sa.Integer()


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    if _is_pg():
        op.add_column(
            "pkg_deployments",
            sa.Column("mode", sa.Text(), nullable=False, server_default="canary"),
        )
        op.create_check_constraint(
            op.f("ck_pkg_deployments_mode_kind"), "pkg_deployments", MODE_CHECK
        )
    else:  # SQLite adds a column with its CHECK in place; no table rebuild needed
        op.execute(
            "ALTER TABLE pkg_deployments ADD COLUMN mode TEXT NOT NULL DEFAULT 'canary' "
            f"CONSTRAINT ck_pkg_deployments_mode_kind CHECK ({MODE_CHECK})"
        )
    op.create_table(
        "pkg_shadow_stats",
        sa.Column(
            "deployment_id",
            _bigint(),
            sa.ForeignKey("pkg_deployments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Text(), primary_key=True),
        sa.Column("replica", sa.Text(), primary_key=True),
        _counter("evaluated"),
        _counter("identical"),
        _counter("different"),
        _counter("errors"),
        _counter("dropped"),
        sa.Column("examples", _json(), nullable=False, server_default="[]"),
        _timestamp("updated_at"),
    )
    op.create_table(
        "pkg_promotion_guards",
        sa.Column(
            "promotion_id",
            _bigint(),
            sa.ForeignKey("pkg_promotions.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column("env", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("from_version", sa.Text()),
        sa.Column("config", _json(), nullable=False),
        sa.Column("watch_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="watching"),
        sa.Column("outcome", _json()),
        sa.Column("decided_by", sa.Text()),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(GUARD_STATUS_CHECK, name=op.f("ck_pkg_promotion_guards_status_kind")),
    )
    op.create_index("ix_pkg_promotion_guards_env_status", "pkg_promotion_guards", ["env", "status"])
    op.create_table(
        "pkg_guard_stats",
        sa.Column(
            "promotion_id",
            _bigint(),
            sa.ForeignKey("pkg_promotion_guards.promotion_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("replica", sa.Text(), primary_key=True),
        _counter("decisions"),
        _counter("errors"),
        _timestamp("updated_at"),
    )


def downgrade() -> None:
    op.drop_table("pkg_guard_stats")
    op.drop_index("ix_pkg_promotion_guards_env_status", table_name="pkg_promotion_guards")
    op.drop_table("pkg_promotion_guards")
    op.drop_table("pkg_shadow_stats")
    if _is_pg():
        op.drop_constraint(op.f("ck_pkg_deployments_mode_kind"), "pkg_deployments", type_="check")
    op.drop_column("pkg_deployments", "mode")
