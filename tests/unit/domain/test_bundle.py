"""OPA bundles → what a wasm snapshot stores: data merged at its paths, roots, entrypoints, and
every way a bundle can be bad (each names the member)."""

from __future__ import annotations

import io
import tarfile

import pytest

from app.domain.bundle import (
    BUNDLE_READERS,
    OPA_BUNDLE,
    PKG_EXPORT,
    BundleError,
    BundleLimits,
    BundleRequest,
    OpaBundle,
    bundle_document,
    bundle_kind,
    read_members,
    read_opa_bundle,
)
from app.domain.document import PolicyDocument, parse_policy_document
from tests.unit.wasm import wat
from tests.unit.wasm.bundles import member, opa_bundle, tar_gz


def opa(raw: bytes, limits: BundleLimits | None = None) -> OpaBundle:
    return read_opa_bundle(read_members(raw, limits), limits)


def loc_of(raw: bytes, limits: BundleLimits | None = None) -> str:
    with pytest.raises(BundleError) as caught:
        opa(raw, limits)
    return caught.value.errors[0].loc


def test_data_files_are_merged_at_their_directory_paths() -> None:
    bundle = opa(
        opa_bundle(
            {
                "data.json": {"top": 1},
                "app/rbac/data.json": {"roles": {"alice": "admin"}},
                "app/rbac/grants/data.json": {"admin": ["read"]},
                "app/other/data.json": [1, 2],
            }
        )
    )
    assert bundle.data == {
        "top": 1,
        "app": {
            "rbac": {"roles": {"alice": "admin"}, "grants": {"admin": ["read"]}},
            "other": [1, 2],
        },
    }


def test_manifest_gives_module_entrypoints_in_order_and_revision() -> None:
    bundle = opa(opa_bundle(entrypoints=("echo_data", "const"), revision="r-42"))
    assert bundle.module == wat.kitchen_wasm()
    assert bundle.entrypoints == ("echo_data", "const")
    assert bundle.revision == "r-42"


def test_data_outside_the_roots_is_refused_naming_the_file() -> None:
    raw = opa_bundle(
        {"app/rbac/data.json": {}, "other/data.json": {}},
        entrypoints=("app/rbac/allow",),
        roots=["app/rbac"],
    )
    assert loc_of(raw) == "bundle[/other/data.json]"


def test_data_under_the_roots_is_accepted() -> None:
    raw = opa_bundle(
        {"app/rbac/data.json": {"x": 1}}, entrypoints=("app/rbac/allow",), roots=["app"]
    )
    assert opa(raw).data == {"app": {"rbac": {"x": 1}}}


def test_an_entrypoint_outside_the_roots_is_refused() -> None:
    raw = opa_bundle(entrypoints=("other/allow",), roots=["app"])
    assert loc_of(raw) == "bundle[/.manifest]"


def test_two_files_setting_the_same_path_conflict() -> None:
    raw = opa_bundle({"data.json": {"app": {"x": 1}}, "app/data.json": {"x": 2}})
    with pytest.raises(BundleError, match="conflicts with data at app/x"):
        opa(raw)


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (b"PK\x03\x04 a zip", "bundle"),
        (b"\x1f\x8b but not really gzip", "bundle"),
        (opa_bundle({"app/data.json": "{not json"}), "bundle[/app/data.json]"),
        (tar_gz([member("/.manifest", {"wasm": [{"entrypoint": "x", "module": "/p.wasm"}]})]),
         "bundle[/p.wasm]"),
        (tar_gz([member("/.manifest", {"revision": "r"})]), "bundle[/.manifest]"),
        (tar_gz([member("/.manifest", "[not json")]), "bundle[/.manifest]"),
        (opa_bundle(extra=[member("../../etc/passwd", b"x")]), "bundle[../../etc/passwd]"),
        (opa_bundle(extra=[member("/app/../../x/data.json", b"{}")]),
         "bundle[/app/../../x/data.json]"),
        (opa_bundle(module=b"not wasm"), "bundle[/policy.wasm]"),
        (opa_bundle(data={"data.json": [1]}), "bundle[/data.json]"),
        (opa_bundle(data={"app/data.yaml": "a: 1"}), "bundle[/app/data.yaml]"),
    ],
)  # fmt: skip  # a table: one bad bundle per line
def test_a_bad_bundle_names_the_member(raw: bytes, loc: str) -> None:
    assert loc_of(raw) == loc


def test_links_are_refused() -> None:
    link = tarfile.TarInfo("/app/data.json")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    assert loc_of(opa_bundle(extra=[(link, b"")])) == "bundle[/app/data.json]"


def test_an_oversize_member_is_refused_before_it_is_read() -> None:
    raw = opa_bundle({"big/data.json": b'{"x": "' + b"a" * 5000 + b'"}'})
    assert loc_of(raw, BundleLimits(max_bytes=4096)) == "bundle[/big/data.json]"


def test_too_many_members_are_refused() -> None:
    raw = opa_bundle({f"d{i}/data.json": {} for i in range(20)})
    with pytest.raises(BundleError, match="more than 10 members"):
        opa(raw, BundleLimits(max_members=10))


def test_data_nested_too_deep_is_refused() -> None:
    deep: object = 1
    for _ in range(70):
        deep = [deep]
    assert loc_of(opa_bundle({"data.json": {"x": deep}})) == "bundle[/data.json]"


def test_the_dispatch_chooses_by_members() -> None:
    assert bundle_kind({".manifest": b"{}"}) == OPA_BUNDLE
    assert bundle_kind({".manifest": b"{}", "pkg-bundle.json": b"{}"}) == PKG_EXPORT
    with pytest.raises(BundleError, match="neither an OPA bundle"):
        bundle_kind({"policy.wasm": b""})


def test_a_pkg_export_bundle_without_its_reader_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(BUNDLE_READERS, PKG_EXPORT, raising=False)
    raw = tar_gz([member("/pkg-bundle.json", {})])
    with pytest.raises(BundleError, match="pkg-export bundles are not supported"):
        bundle_document(raw, BundleRequest(version="v"))


def test_a_bundle_becomes_a_document_whose_checksum_covers_its_data() -> None:
    def document(data: dict[str, object]) -> PolicyDocument:
        raw = bundle_document(opa_bundle({"app/data.json": data}), BundleRequest(version="b@1"))
        return parse_policy_document(raw)

    first, same, changed = document({"x": 1}), document({"x": 1}), document({"x": 2})
    assert first.version == "b@1" and first.entrypoint == "echo_data"
    assert first.wasm.entrypoints == ("echo_data", "echo_input", "const")
    assert first.wasm.revision == "rev-1"
    assert first.checksum == same.checksum
    assert first.checksum != changed.checksum
    assert first.checksum != wat.sha256(wat.kitchen_wasm())


def test_the_version_defaults_to_the_revision_and_the_entrypoint_can_be_named() -> None:
    raw = bundle_document(opa_bundle(revision="rbac@7"), BundleRequest(entrypoint="const"))
    document = parse_policy_document(raw)
    assert (document.version, document.entrypoint) == ("rbac@7", "const")


def test_a_named_entrypoint_must_be_one_of_the_manifests() -> None:
    raw = bundle_document(opa_bundle(), BundleRequest(version="v", entrypoint="nope"))
    with pytest.raises(ValueError, match=r"wasm\.entrypoint: not one of the entrypoints"):
        parse_policy_document(raw)


def test_a_bundle_cannot_inflate_past_its_limit_through_tar_headers() -> None:
    info = tarfile.TarInfo("/data.json")
    info.pax_headers = {"comment": "a" * (3 * 1024 * 1024)}  # read whole by tarfile
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(BundleError, match="unpacks to more than"):
        read_members(buffer.getvalue(), BundleLimits(max_bytes=1024 * 1024, max_members=10))
