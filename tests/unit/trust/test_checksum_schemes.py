"""Checksums follow RFC 8785; snapshots stored under the old scheme keep verifying."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from app.domain.document import parse_policy_document
from app.domain.errors import ChecksumMismatchError, DocumentError
from app.domain.snapshot import (
    CHECKSUM_SCHEME,
    CHECKSUM_SCHEME_LEGACY,
    canonical_json,
    native_checksum,
    snapshot_from_dict,
    snapshot_to_dict,
)

DOCUMENT: dict[str, Any] = {
    "version": "rules@1.0.0",
    "env": "prod",
    "subtask_types": {"escalate": {"default_params": {"level": "normal", "weight": 1.0}}},
    "rules": [
        {
            "name": "vip",
            "conditions": [{"type": "SIGNAL", "key": "x", "op": ">=", "value": 1.0}],
            "emissions": [{"subtask_type": "escalate"}],
        }
    ],
}


def test_canonical_json_is_rfc_8785() -> None:
    # RFC 8785 §3.2.2.3: numbers as ECMAScript prints them; keys sorted by UTF-16 code units
    assert canonical_json({"b": 1.0, "a": 1e-7, "c": "é"}) == b'{"a":1e-7,"b":1,"c":"\xc3\xa9"}'


def test_new_documents_use_rfc_8785_and_the_legacy_scheme_differs_for_floats() -> None:
    document = parse_policy_document(copy.deepcopy(DOCUMENT))
    snapshot = document.to_snapshot()
    assert snapshot.checksum_scheme == CHECKSUM_SCHEME
    legacy = native_checksum(snapshot.rules, snapshot.subtask_types, scheme=CHECKSUM_SCHEME_LEGACY)
    assert legacy != snapshot.checksum  # `1.0` is "1.0" in one and "1" in the other


def test_a_snapshot_stored_under_the_legacy_scheme_still_verifies() -> None:
    snapshot = parse_policy_document(copy.deepcopy(DOCUMENT)).to_snapshot()
    legacy = native_checksum(snapshot.rules, snapshot.subtask_types, scheme=CHECKSUM_SCHEME_LEGACY)
    old = replace(snapshot, checksum=legacy, checksum_scheme=CHECKSUM_SCHEME_LEGACY)

    old.verify_checksum()
    with pytest.raises(ChecksumMismatchError):
        replace(old, checksum_scheme=CHECKSUM_SCHEME).verify_checksum()


def test_a_cache_file_from_before_schemes_reads_as_legacy() -> None:
    snapshot = parse_policy_document(copy.deepcopy(DOCUMENT)).to_snapshot()
    data = snapshot_to_dict(snapshot)
    assert snapshot_from_dict(data) == snapshot
    for key in ("checksum_scheme", "signature", "signing_key_id"):
        del data[key]
    assert snapshot_from_dict(data).checksum_scheme == CHECKSUM_SCHEME_LEGACY


def test_a_number_outside_i_json_is_refused_naming_rfc_8785() -> None:
    raw = copy.deepcopy(DOCUMENT)
    raw["subtask_types"]["escalate"]["default_params"]["big"] = 2**60
    with pytest.raises(DocumentError, match="RFC 8785"):
        parse_policy_document(raw)
