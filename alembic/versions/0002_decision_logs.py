"""Decision logs: `pkg_decision_logs`, one row per logged decision (PKG_DECISION_LOG=database).

Self-contained like 0001. Rows are pruned by the service after PKG_DECISION_LOG_RETENTION_HOURS;
`(version, time)` serves `GET /decisions?version=&since=`, `decision_id` is unique.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "pkg_decision_logs"


def _json() -> sa.types.TypeEngine[object]:
    return postgresql.JSONB() if op.get_bind().dialect.name == "postgresql" else sa.JSON()


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        TABLE,
        sa.Column(
            "id", sa.BigInteger() if is_pg else sa.Integer(), primary_key=True, autoincrement=True
        ),
        sa.Column("decision_id", sa.String(64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("env", sa.Text(), nullable=False),
        sa.Column("version", sa.Text()),
        sa.Column("engine", sa.Text()),
        sa.Column("lane", sa.Text()),
        sa.Column("deployment_id", sa.Integer()),
        sa.Column("input", _json()),
        sa.Column("rules", _json()),
        sa.Column("subtasks", _json()),
        sa.Column("duration_ms", sa.Float()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("role", sa.Text()),
        sa.Column("instance", sa.Text()),
        sa.UniqueConstraint("decision_id", name="uq_pkg_decision_logs_decision_id"),
        sa.CheckConstraint(
            "outcome IN ('matched', 'no_match', 'error')", name="ck_pkg_decision_logs_outcome"
        ),
    )
    op.create_index("ix_pkg_decision_logs_time", TABLE, ["time"])
    op.create_index("ix_pkg_decision_logs_version_time", TABLE, ["version", "time"])


def downgrade() -> None:
    op.drop_index("ix_pkg_decision_logs_version_time", table_name=TABLE)
    op.drop_index("ix_pkg_decision_logs_time", table_name=TABLE)
    op.drop_table(TABLE)
