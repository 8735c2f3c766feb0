"""Decision caller: a decision record names its caller (`pkg_decision_logs.caller`, the
token's name as the audit trail records it), not only the caller's role. NULL: no token (a
library call), or written before this revision.

Self-contained on purpose (it does not import the application's models).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "pkg_decision_logs"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("caller", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:  # SQLite drops a column by rebuilding the table
        batch.drop_column("caller")
