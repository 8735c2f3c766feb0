"""Trust: checksum schemes and signatures on snapshots; `on_behalf_of` and a hash chain on the
audit trail.

- `pkg_snapshots.checksum_scheme`: existing rows keep scheme 1 (their checksum was taken over
  `json.dumps(sort_keys=True)` and still verifies that way); the service writes scheme 2
  (RFC 8785) from now on. Nothing stored is rewritten, so a signature made over an old
  checksum keeps verifying.
- `pkg_snapshots.signature`, `signing_key_id`: the detached Ed25519 signature.
- `pkg_promotions.on_behalf_of`: what a caller's body said as `actor` (the actor is now the
  token's name).
- `pkg_promotions.chain_seq`, `prev_hash`, `row_hash`, `signature`, `signing_key_id`: every
  existing row is chained here, per env in id order, with the hash the service computes
  (`app/domain/trust.py`); the hashing is repeated below on purpose, frozen as of this
  revision, as a revision must not change with the application.

Revision ID: 0003
Revises: 0004 (written against 0001)
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import rfc8785
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = (
    "0005"  # chain: 0001 → 0002 → 0004 → 0005 → 0003 (the order branches landed)
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
AUDIT_FIELDS = (
    "id",
    "env",
    "snapshot_id",
    "from_version",
    "to_version",
    "actor",
    "on_behalf_of",
    "action",
    "reason",
    "metrics",
    "success",
    "created_at",
    "chain_seq",
    "prev_hash",
)
SNAPSHOT_COLUMNS = ("checksum_scheme", "signature", "signing_key_id")
PROMOTION_COLUMNS = (
    "on_behalf_of",
    "chain_seq",
    "prev_hash",
    "row_hash",
    "signature",
    "signing_key_id",
)


def _json() -> sa.types.TypeEngine[Any]:
    return postgresql.JSONB() if op.get_bind().dialect.name == "postgresql" else sa.JSON()


def upgrade() -> None:
    op.add_column(
        "pkg_snapshots",
        sa.Column("checksum_scheme", sa.Integer(), nullable=False, server_default="1"),
    )
    op.add_column("pkg_snapshots", sa.Column("signature", sa.Text()))
    op.add_column("pkg_snapshots", sa.Column("signing_key_id", sa.Text()))
    op.add_column("pkg_promotions", sa.Column("on_behalf_of", sa.Text()))
    op.add_column("pkg_promotions", sa.Column("chain_seq", sa.Integer()))
    op.add_column("pkg_promotions", sa.Column("prev_hash", sa.String(64)))
    op.add_column("pkg_promotions", sa.Column("row_hash", sa.String(64)))
    op.add_column("pkg_promotions", sa.Column("signature", sa.Text()))
    op.add_column("pkg_promotions", sa.Column("signing_key_id", sa.Text()))
    _chain_existing_rows()


def downgrade() -> None:
    for column in PROMOTION_COLUMNS:
        op.drop_column("pkg_promotions", column)
    for column in SNAPSHOT_COLUMNS:
        op.drop_column("pkg_snapshots", column)


def _promotions() -> sa.TableClause:
    return sa.table(
        "pkg_promotions",
        sa.column("id", sa.BigInteger()),
        sa.column("env", sa.Text()),
        sa.column("snapshot_id", sa.Integer()),
        sa.column("from_version", sa.Text()),
        sa.column("to_version", sa.Text()),
        sa.column("actor", sa.Text()),
        sa.column("on_behalf_of", sa.Text()),
        sa.column("action", sa.Text()),
        sa.column("reason", sa.Text()),
        sa.column("metrics", _json()),
        sa.column("success", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("chain_seq", sa.Integer()),
        sa.column("prev_hash", sa.String(64)),
        sa.column("row_hash", sa.String(64)),
    )


def _chain_existing_rows() -> None:
    bind = op.get_bind()
    table = _promotions()
    rows = bind.execute(sa.select(table).order_by(table.c.env, table.c.id)).mappings().all()
    last: dict[str, tuple[int, str]] = {}
    for row in rows:
        env = str(row["env"])
        seq, prev_hash = last.get(env, (0, GENESIS_HASH))
        values = {**row, "env": env, "chain_seq": seq + 1, "prev_hash": prev_hash}
        row_hash = _row_hash(values)
        bind.execute(
            sa.update(table)
            .where(table.c.id == row["id"])
            .values(chain_seq=seq + 1, prev_hash=prev_hash, row_hash=row_hash)
        )
        last[env] = (seq + 1, row_hash)


def _row_hash(row: dict[str, Any]) -> str:
    fields: dict[str, Any] = {}
    for name in AUDIT_FIELDS:
        value = row.get(name)
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            value = aware.astimezone(UTC).isoformat(timespec="microseconds")
        fields[name] = value
    fields["success"] = bool(fields["success"])
    payload = rfc8785.dumps({"purpose": "pkg-audit-row/1", **fields})
    return hashlib.sha256(payload).hexdigest()
