"""PKG export bundles: deterministic files, strict reading (through the shared bounded tar
reader of app/domain/bundle.py)."""

from __future__ import annotations

import copy
import gzip
import io
import json
import tarfile

import pytest

from app.domain.bundle import PKG_EXPORT, BundleError, bundle_kind, read_members
from app.domain.document import document_from_snapshot, parse_policy_document
from app.domain.pkg_bundle import read_bundle, write_bundle
from app.domain.trust import SnapshotSignature
from tests.unit.trust.test_checksum_schemes import DOCUMENT

SIGNATURE = SnapshotSignature("0123456789abcdef", "c2lnbmF0dXJl")


def _bundle() -> bytes:
    snapshot = parse_policy_document(copy.deepcopy(DOCUMENT)).to_snapshot()
    return write_bundle(
        document_from_snapshot(snapshot, []),
        checksum=str(snapshot.checksum),
        checksum_scheme=snapshot.checksum_scheme,
        signature=SIGNATURE,
    )


def _tar(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def _members(bundle: bytes) -> dict[str, bytes]:
    return read_members(bundle)


def test_writing_is_deterministic_and_reads_back() -> None:
    data = _bundle()
    assert data == _bundle()
    members = _members(data)
    assert bundle_kind(members) == PKG_EXPORT
    bundle = read_bundle(members)
    assert bundle.signature == SIGNATURE
    assert bundle.document["version"] == DOCUMENT["version"]
    assert parse_policy_document(bundle.document).checksum == bundle.manifest["checksum"]


def test_a_truncated_bundle_is_refused() -> None:
    data = _bundle()
    with pytest.raises(BundleError, match="not a readable gzipped tar"):
        read_members(data[: len(data) // 2])


def test_a_member_that_does_not_match_the_manifest_is_refused() -> None:
    members = _members(_bundle())
    document = json.loads(members["policy.json"])
    document["rules"][0]["priority"] = 1
    members["policy.json"] = json.dumps(document).encode()
    with pytest.raises(BundleError, match=r"bundle\[policy\.json\]: does not match its sha256"):
        read_bundle(_members(_tar(members)))


def test_an_unknown_member_is_refused_by_name() -> None:
    members = _members(_bundle()) | {"extra/notes.txt": b"hi"}
    with pytest.raises(BundleError, match=r"bundle\[extra/notes\.txt\]: unexpected member"):
        read_bundle(members)


def test_a_missing_member_is_refused_by_name() -> None:
    members = _members(_bundle())
    del members["fixtures.json"]
    with pytest.raises(BundleError, match="missing"):
        read_bundle(members)
