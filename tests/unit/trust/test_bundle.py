"""PKG bundles: deterministic files, bounded and strict reading."""

from __future__ import annotations

import copy
import gzip
import io
import json
import tarfile

import pytest

from app.domain.bundle import MAX_MEMBERS, is_pkg_bundle, read_bundle, write_bundle
from app.domain.document import document_from_snapshot, parse_policy_document
from app.domain.errors import BundleError
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


def _tar(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return gzip.compress(raw.getvalue())


def test_writing_is_deterministic_and_reads_back() -> None:
    data = _bundle()
    assert data == _bundle()
    assert is_pkg_bundle(data)
    bundle = read_bundle(data)
    assert bundle.signature == SIGNATURE
    assert bundle.document["version"] == DOCUMENT["version"]
    assert parse_policy_document(bundle.document).checksum == bundle.manifest["checksum"]


def test_a_truncated_bundle_is_refused() -> None:
    data = _bundle()
    with pytest.raises(BundleError, match="truncated"):
        read_bundle(data[: len(data) // 2])


def test_not_a_gzip_file_is_refused() -> None:
    with pytest.raises(BundleError, match="not a gzip tar"):
        read_bundle(b"plain text")


def test_a_member_that_does_not_match_the_manifest_is_refused() -> None:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(_bundle()))) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    document = json.loads(members["policy.json"])
    document["rules"][0]["priority"] = 1
    members["policy.json"] = json.dumps(document).encode()
    with pytest.raises(BundleError, match=r"policy\.json does not match its sha256"):
        read_bundle(_tar(members))


@pytest.mark.parametrize("name", ["../policy.json", "/policy.json", "sub/policy.json", "x.txt"])
def test_paths_and_unknown_members_are_refused(name: str) -> None:
    with pytest.raises(BundleError, match="unexpected"):
        read_bundle(_tar({name: b"{}"}))


def test_links_are_refused() -> None:
    with pytest.raises(BundleError, match="not a regular file"):
        read_bundle(_tar({}, link="policy.json"))


def test_telling_bundles_apart_is_bounded_too() -> None:
    members = {f"m{i}": b"" for i in range(MAX_MEMBERS + 1)}
    with pytest.raises(BundleError, match=f"more than {MAX_MEMBERS} members"):
        is_pkg_bundle(_tar(members))
