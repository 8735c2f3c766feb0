"""PKG export bundles: one snapshot as a `.tar.gz` file that moves between stores (Git → CI →
production) and verifies on arrival.

Members (flat, regular files only):

    pkg-bundle.json   {"format", "version", "env", "engine", "checksum", "checksum_scheme",
                       "signature": {"key_id", "value"} | null, "files": {name: sha256}}
    policy.json       the policy document (without fixtures; a wasm artifact is a file)
    fixtures.json     the validation fixtures
    policy.wasm       the OPA WebAssembly module (wasm snapshots only)

Writing is deterministic (sorted members, zero timestamps and owners, gzip mtime 0), so the
same snapshot always exports to the same bytes, whichever store it was read from. Reading goes
through `app.domain.bundle.read_members` (bounded; links and `..` refused), the one tar reader
for both kinds of bundle; here only the four known member names are accepted.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from app.domain.bundle import PKG_EXPORT_MARKER, BundleError
from app.domain.trust import SnapshotSignature

MANIFEST: Final = PKG_EXPORT_MARKER  # "pkg-bundle.json"
FORMAT: Final = "pkg-bundle/1"
DOCUMENT: Final = "policy.json"
FIXTURES: Final = "fixtures.json"
WASM: Final = "policy.wasm"
KNOWN_MEMBERS: Final = frozenset({MANIFEST, DOCUMENT, FIXTURES, WASM})


@dataclass(frozen=True)
class PolicyBundle:
    manifest: dict[str, Any]
    document: dict[str, Any]  # a raw policy document, fixtures and wasm artifact folded back in

    @property
    def signature(self) -> SnapshotSignature | None:
        signature = self.manifest.get("signature")
        if not isinstance(signature, dict):
            return None
        key_id, value = signature.get("key_id"), signature.get("value")
        if not isinstance(key_id, str) or not isinstance(value, str):
            raise BundleError(MANIFEST, "signature needs string key_id and value")
        return SnapshotSignature(key_id, value)

    @property
    def checksum_scheme(self) -> int:
        scheme = self.manifest.get("checksum_scheme")
        if not isinstance(scheme, int) or isinstance(scheme, bool):
            raise BundleError(MANIFEST, "checksum_scheme must be an integer")
        return scheme


# ---------------------------------------------------------------------------- writing
def write_bundle(
    document: Mapping[str, Any],
    *,
    checksum: str,
    checksum_scheme: int,
    signature: SnapshotSignature | None,
) -> bytes:
    """A stored snapshot's document (as `document_from_snapshot` gives it) → bundle bytes."""
    body = {k: v for k, v in document.items() if k != "fixtures"}
    files: dict[str, bytes] = {}
    wasm = body.get("wasm")
    if isinstance(wasm, dict) and "artifact" in wasm:
        files[WASM] = base64.b64decode(wasm["artifact"])
        body["wasm"] = {k: v for k, v in wasm.items() if k != "artifact"} | {"file": WASM}
    files[DOCUMENT] = _json(body)
    files[FIXTURES] = _json(list(document.get("fixtures") or []))
    manifest = {
        "format": FORMAT,
        "version": document["version"],
        "env": document["env"],
        "engine": document["engine"],
        "checksum": checksum,
        "checksum_scheme": checksum_scheme,
        "signature": (
            {"key_id": signature.key_id, "value": signature.value} if signature else None
        ),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files[MANIFEST] = _json(manifest)
    return _tar_gz(files)


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _tar_gz(files: Mapping[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


# ---------------------------------------------------------------------------- reading
def read_bundle(members: Mapping[str, bytes]) -> PolicyBundle:
    """A PKG export's members (from `read_members`) → manifest and document, with every
    member's sha256 checked against the manifest. The caller checks the document's checksum
    and the signature."""
    for name in members:
        if name not in KNOWN_MEMBERS:
            raise BundleError(name, "unexpected member in a PKG export bundle")
    files = dict(members)
    manifest = _load_json(files, MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(MANIFEST, f"format must be {FORMAT!r}")
    _check_files(manifest, files)
    document = _load_json(files, DOCUMENT)
    fixtures = _load_json(files, FIXTURES)
    if not isinstance(document, dict) or not isinstance(fixtures, list):
        raise BundleError(DOCUMENT, f"must hold an object (and {FIXTURES} a list)")
    for key in ("version", "env", "engine"):
        if document.get(key) != manifest.get(key):
            raise BundleError(MANIFEST, f"{key} {manifest.get(key)!r} differs from the document")
    document["fixtures"] = fixtures
    wasm = document.get("wasm")
    if isinstance(wasm, dict) and wasm.get("file") == WASM:
        if WASM not in files:
            raise BundleError(WASM, "the document names it but the bundle has no such member")
        document["wasm"] = {k: v for k, v in wasm.items() if k != "file"} | {
            "artifact": base64.b64encode(files[WASM]).decode("ascii")
        }
    return PolicyBundle(manifest, document)


def _check_files(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise BundleError(MANIFEST, "files must map member names to sha256")
    present = set(files) - {MANIFEST}
    if set(listed) != present:
        missing, extra = set(listed) - present, present - set(listed)
        raise BundleError(
            MANIFEST,
            f"members do not match: missing {sorted(missing)}, unlisted {sorted(extra)}",
        )
    for name, digest in listed.items():
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise BundleError(name, f"does not match its sha256 in {MANIFEST}")


def _load_json(files: Mapping[str, bytes], name: str) -> Any:
    if name not in files:
        raise BundleError(name, "missing from the bundle")
    try:
        return json.loads(files[name])
    except ValueError as exc:
        raise BundleError(name, f"not valid JSON: {exc}") from exc
