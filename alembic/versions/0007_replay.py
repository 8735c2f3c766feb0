"""Replay: a decision record notes which redaction paths reached its input
(`pkg_decision_logs.redacted`), so replay can tell a record it can decide faithfully from one
whose masked or dropped parts a candidate's conditions read. NULL: written before this
revision (replay then looks for masked values in the input).

Self-contained on purpose (it does not import the application's models).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "pkg_decision_logs"


def _json() -> sa.types.TypeEngine[object]:
    return postgresql.JSONB() if op.get_bind().dialect.name == "postgresql" else sa.JSON()


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("redacted", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:  # SQLite drops a column by rebuilding the table
        batch.drop_column("redacted")
