"""Coverage: the fixture coverage of a validation run, and per-replica counts of the rules that
fired on live traffic, per time bucket.

Self-contained on purpose (it does not import the application's models).

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0003"  # the head: 0001 → 0002 → 0004 → 0005 → 0003 (see 0003)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _json() -> sa.types.TypeEngine[object]:
    return postgresql.JSONB() if _is_pg() else sa.JSON()


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def _key(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), primary_key=True)


def _bucket() -> sa.Column[object]:
    return sa.Column("bucket", sa.DateTime(timezone=True), primary_key=True)


def _updated_at() -> sa.Column[object]:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.add_column("pkg_validation_runs", sa.Column("coverage", _json(), nullable=True))
    # primary keys lead with (version, bucket): a window's read is one index range scan
    op.create_table(
        "pkg_rule_fire_counts",
        _key("version"),
        _bucket(),
        _key("replica"),
        _key("rule"),
        _counter("fired"),
        _updated_at(),
    )
    op.create_table(
        "pkg_decision_counts",
        _key("version"),
        _bucket(),
        _key("replica"),
        _counter("decisions"),
        _counter("errors"),
        _updated_at(),
    )


def downgrade() -> None:
    op.drop_table("pkg_decision_counts")
    op.drop_table("pkg_rule_fire_counts")
    op.drop_column("pkg_validation_runs", "coverage")
