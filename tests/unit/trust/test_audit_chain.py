"""The audit chain names the first row that was altered, removed or inserted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.trust import GENESIS_HASH, audit_row_hash, next_link, verify_chain


def _chain(count: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    started = datetime(2026, 12, 1, tzinfo=UTC)
    for index in range(count):
        seq, prev_hash = next_link(rows[-1] if rows else None)
        row = {
            "id": 10 + index * 3,  # ids of one env are not contiguous (envs share a sequence)
            "env": "prod",
            "snapshot_id": index + 1,
            "from_version": f"v{index}" if index else None,
            "to_version": f"v{index + 1}",
            "actor": "alice",
            "on_behalf_of": None,
            "action": "promote",
            "reason": None,
            "metrics": {"forced": False, "validation_run_id": index},
            "success": True,
            "created_at": started + timedelta(seconds=index),
            "chain_seq": seq,
            "prev_hash": prev_hash,
        }
        row["row_hash"] = audit_row_hash(row)
        rows.append(row)
    return rows


def test_an_honest_chain_verifies() -> None:
    rows = _chain(5)
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert verify_chain(rows, active_version="v5") == (5, None)


def test_an_updated_field_names_its_row() -> None:
    rows = _chain(5)
    rows[2]["actor"] = "mallory"
    _count, found = verify_chain(rows)
    assert found is not None and (found.row_id, found.problem) == (rows[2]["id"], "altered")


def test_an_updated_and_rehashed_row_is_named_by_the_row_after_it() -> None:
    rows = _chain(5)
    rows[2]["reason"] = "nothing to see"
    rows[2]["row_hash"] = audit_row_hash(rows[2])
    _count, found = verify_chain(rows)
    assert found is not None and (found.row_id, found.problem) == (rows[2]["id"], "altered")


def test_a_deleted_row_is_named_by_the_gap() -> None:
    rows = _chain(5)
    del rows[2]
    _count, found = verify_chain(rows)
    assert found is not None and found.problem == "removed"
    assert found.row_id == rows[2]["id"] and "position 3" in found.detail


def test_a_deleted_first_row_is_seen() -> None:
    _count, found = verify_chain(_chain(3)[1:])
    assert found is not None and found.problem == "removed"


def test_deleted_newest_rows_are_seen_against_the_active_version() -> None:
    rows = _chain(5)[:3]
    _count, found = verify_chain(rows, active_version="v5")
    assert found is not None and found.problem == "removed" and "v5 is active" in found.detail


def test_an_inserted_row_without_a_hash_is_named() -> None:
    rows = _chain(4)
    forged = {**rows[1], "id": 12, "actor": "mallory", "row_hash": None, "chain_seq": None}
    rows.insert(2, forged)
    _count, found = verify_chain(rows)
    assert found is not None and (found.row_id, found.problem) == (12, "inserted")


def test_an_inserted_row_with_a_forged_hash_is_named() -> None:
    rows = _chain(4)
    forged = {**rows[1], "id": 12, "actor": "mallory"}
    forged["row_hash"] = audit_row_hash(forged)  # repeats position 2
    rows.insert(2, forged)
    _count, found = verify_chain(rows)
    assert found is not None and (found.row_id, found.problem) == (12, "inserted")


def test_once_rows_are_signed_an_unsigned_row_is_not_ours() -> None:
    rows = _chain(4)
    for row in rows[:2]:
        row["signature"], row["signing_key_id"] = "c2ln", "k"
    _count, found = verify_chain(rows, check_signature=lambda row: None)
    assert found is not None and (found.row_id, found.problem) == (rows[2]["id"], "inserted")


def test_a_bad_signature_is_named() -> None:
    rows = _chain(3)
    for row in rows:
        row["signature"], row["signing_key_id"] = "c2ln", "k"

    def check(row: Mapping[str, Any]) -> str | None:
        return "signature by key k does not verify" if row["id"] == rows[1]["id"] else None

    _count, found = verify_chain(rows, check_signature=check)
    assert found is not None and (found.row_id, found.problem) == (rows[1]["id"], "bad_signature")
