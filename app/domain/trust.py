"""What is signed and what is hashed: the bytes behind snapshot signatures and the audit chain.

Pure functions; the Ed25519 keys that sign these bytes live in `app/services/signing.py`.

- A snapshot signature covers `signing_payload(snapshot)`: the RFC 8785 canonical JSON of its
  checksum (and checksum scheme), version, env and engine, so two versions with the same rules
  cannot be swapped for one another, nor moved to another env.
- Each audit row (promotion or rollback) stores `prev_hash`, the `row_hash` of the row before it
  in its env (`GENESIS_HASH` for the first), and `row_hash`, the sha256 of the canonical JSON
  of its own fields including `prev_hash` and its per-env `chain_seq`. `verify_chain` walks an
  env's rows in order and names the first one that was altered, removed or inserted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from app.domain.snapshot import PKGSnapshotData, canonical_json

SIGNATURE_PURPOSE: Final = "pkg-snapshot-signature/1"
AUDIT_PURPOSE: Final = "pkg-audit-row/1"
GENESIS_HASH: Final = "0" * 64
# the fields of an audit row its hash covers (columns added later are not covered)
AUDIT_FIELDS: Final = (
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


@dataclass(frozen=True)
class SnapshotSignature:
    """A detached signature: which key (its id) and the base64 Ed25519 signature."""

    key_id: str
    value: str


def signing_payload(snapshot: PKGSnapshotData) -> bytes:
    """The bytes a snapshot's detached signature covers."""
    return canonical_json(
        {
            "purpose": SIGNATURE_PURPOSE,
            "version": snapshot.version,
            "env": snapshot.env,
            "engine": snapshot.engine,
            "checksum": snapshot.checksum,
            "checksum_scheme": snapshot.checksum_scheme,
        }
    )


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def audit_row_payload(row: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an audit row's covered fields (what its hash and signature cover)."""
    fields = {name: _timestamp(row.get(name)) for name in AUDIT_FIELDS}
    fields["success"] = bool(fields["success"])
    return canonical_json({"purpose": AUDIT_PURPOSE, **fields})


def audit_row_hash(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(audit_row_payload(row)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first row of an env's audit trail that is not what the service wrote."""

    row_id: int | None
    problem: str  # "altered" | "removed" | "inserted" | "bad_signature"
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"row_id": self.row_id, "problem": self.problem, "detail": self.detail}


RowCheck = Callable[[Mapping[str, Any]], str | None]  # a signature check: None when fine


def verify_chain(
    rows: Iterable[Mapping[str, Any]],
    *,
    check_signature: RowCheck | None = None,
    active_version: str | None = None,
) -> tuple[int, ChainBreak | None]:
    """Walk one env's audit rows in id order; return (rows checked, the first break or None).

    `active_version`, when given, is what the env serves now: a chain whose newest row does not
    lead there lost its newest rows (the one truncation a hash chain alone cannot see)."""
    previous: Mapping[str, Any] | None = None
    count, signing = 0, False
    for row in rows:
        count += 1
        found = _check_row(row, previous)
        if found is None:
            found = _check_signature(row, check_signature, signing=signing)
            signing = signing or bool(row.get("signature"))
        if found is not None:
            return count, found
        previous = row
    if _truncated(previous, active_version):
        newest = (
            "there are no rows"
            if previous is None
            else (f"the newest row ({previous['id']}) leads to {previous['to_version']}")
        )
        detail = f"{newest}, but {active_version} is active: rows were removed"
        return count, ChainBreak(None, "removed", detail)
    return count, None


def _truncated(newest: Mapping[str, Any] | None, active_version: str | None) -> bool:
    if active_version is None:
        return False
    if newest is None:
        return True
    return bool(newest["success"]) and newest["to_version"] != active_version


def _check_signature(
    row: Mapping[str, Any], check: RowCheck | None, *, signing: bool
) -> ChainBreak | None:
    # once rows are signed, an unsigned row after them was not written by PKG
    if signing and not row.get("signature"):
        return ChainBreak(row["id"], "inserted", f"row {row['id']} is unsigned after signed rows")
    problem = check(row) if check is not None and row.get("signature") else None
    if problem is not None:
        return ChainBreak(row["id"], "bad_signature", f"row {row['id']}: {problem}")
    return None


def _check_row(row: Mapping[str, Any], previous: Mapping[str, Any] | None) -> ChainBreak | None:
    row_id = row["id"]
    previous_seq = 0 if previous is None else int(previous["chain_seq"])
    previous_hash = GENESIS_HASH if previous is None else previous["row_hash"]
    if not row.get("row_hash") or row.get("chain_seq") is None:
        return ChainBreak(row_id, "inserted", f"row {row_id} has no hash: written outside PKG")
    if audit_row_hash(row) != row["row_hash"]:
        return ChainBreak(row_id, "altered", f"row {row_id}: its fields do not match its hash")
    seq = int(row["chain_seq"])
    if seq > previous_seq + 1:
        gap = f"{previous_seq + 1}" if seq == previous_seq + 2 else f"{previous_seq + 1}-{seq - 1}"
        return ChainBreak(
            row_id, "removed", f"chain position {gap} before row {row_id} is missing (deleted)"
        )
    if seq <= previous_seq:
        return ChainBreak(row_id, "inserted", f"row {row_id} repeats chain position {seq}")
    if row.get("prev_hash") != previous_hash:
        if previous is None:
            return ChainBreak(row_id, "removed", f"row {row_id} follows a row that is gone")
        return ChainBreak(
            previous["id"],
            "altered",
            f"row {previous['id']} was changed and re-hashed: row {row_id}'s prev_hash "
            "no longer matches it",
        )
    return None


def next_link(previous: Mapping[str, Any] | None) -> tuple[int, str]:
    """(chain_seq, prev_hash) for the row written after `previous`, the env's newest chained
    row (None: the first row of its env)."""
    if previous is None:
        return 1, GENESIS_HASH
    return int(previous["chain_seq"]) + 1, str(previous["row_hash"])
