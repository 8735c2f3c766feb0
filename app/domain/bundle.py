"""Bundles (gzipped tarballs) → what a wasm snapshot stores. Pure and bounded: stdlib only.

Two kinds arrive on the same endpoint (DESIGN.md §8), told apart by their members:

- an **OPA bundle** (`opa build -t wasm`): `/.manifest` with a `wasm` list, the module it names,
  `data.json` files merged at their directory paths (as OPA does), `roots` honoured;
- a **PKG export bundle** (`pkgctl export`): carries a `pkg-bundle.json` member. Its reader lives
  with the export code and registers itself in `BUNDLE_READERS` under `PKG_EXPORT`.

Every problem is a `DocumentError` whose `loc` names the member (`bundle[/data.json]`).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from app.domain.errors import DocumentError, FieldError

MANIFEST: Final = ".manifest"
PKG_EXPORT_MARKER: Final = "pkg-bundle.json"
OPA_BUNDLE: Final = "opa"
PKG_EXPORT: Final = "pkg-export"
GZIP_MAGIC: Final = b"\x1f\x8b"
DATA_FILES: Final = ("data.json",)
YAML_DATA_FILES: Final = ("data.yaml", "data.yml")


@dataclass(frozen=True)
class BundleLimits:
    """Bounds on what a bundle may unpack to (the compressed body is bounded by the API)."""

    max_bytes: int = 64 * 1024 * 1024  # all members, uncompressed
    max_members: int = 1000
    max_data_depth: int = 64


@dataclass(frozen=True)
class BundleRequest:
    """What the caller says about a bundle it sends (query parameters of `POST /snapshots`)."""

    version: str | None = None
    env: str | None = None
    entrypoint: str | None = None
    strict_builtin_errors: bool = False
    limits: BundleLimits = field(default_factory=BundleLimits)


@dataclass(frozen=True)
class OpaBundle:
    """The parts of an OPA bundle a snapshot keeps."""

    module: bytes
    entrypoints: tuple[str, ...]  # manifest order: the first is the default
    data: dict[str, Any]
    revision: str | None
    roots: tuple[str, ...]


class BundleError(DocumentError):
    """A bundle is unreadable or breaks a rule; `member` is where (`bundle` for the whole)."""

    def __init__(self, member: str, msg: str, *, prefix: str = "bundle") -> None:
        self.member = member
        loc = prefix if member == prefix else f"{prefix}[{member}]"
        super().__init__([FieldError(loc, msg)])


# ---------------------------------------------------------------------------- tar members
def _member_name(info: tarfile.TarInfo) -> str:
    """`/a/b/data.json` and `./a/b/data.json` → `a/b/data.json`; traversal and links refused."""
    raw = info.name
    if "\\" in raw or "\x00" in raw:
        raise BundleError(raw, "member names use '/' and no NUL or backslash")
    name = raw.lstrip("/")
    name = name[2:] if name.startswith("./") else name
    parts = name.split("/")
    if any(part == ".." for part in parts):
        raise BundleError(raw, "path traversal ('..') in a member name")
    if info.issym() or info.islnk():
        raise BundleError(raw, "links are not allowed in a bundle")
    if not (info.isfile() or info.isdir()):
        raise BundleError(raw, "only regular files and directories are allowed in a bundle")
    return posixpath.normpath(name) if name else ""


class _Inflated(io.RawIOBase):
    """The gunzipped stream, refusing to inflate past `limit` bytes: tar headers themselves
    (PAX records) are read whole by `tarfile`, so the cap must sit below it."""

    def __init__(self, raw: bytes, limit: int) -> None:
        self._source = gzip.GzipFile(fileobj=io.BytesIO(raw))
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        chunk = self._source.read(min(len(view), self._left + 1))
        self._left -= len(chunk)
        if self._left < 0:
            raise BundleError("bundle", "the bundle unpacks to more than its size limit")
        view[: len(chunk)] = chunk
        return len(chunk)


def read_members(raw: bytes, limits: BundleLimits | None = None) -> dict[str, bytes]:
    """The regular files of a gzipped tar, by normalised name, within `limits`."""
    limits = limits or BundleLimits()
    if not raw.startswith(GZIP_MAGIC):
        raise BundleError("bundle", "not a gzip file (a bundle is a .tar.gz)")
    members: dict[str, bytes] = {}
    total = count = 0
    # headers and padding add to the members' own bytes: allow them, bounded
    inflated = io.BufferedReader(_Inflated(raw, 2 * limits.max_bytes + 1024 * limits.max_members))
    try:
        with tarfile.open(fileobj=inflated, mode="r|") as archive:
            for info in archive:
                count += 1
                if count > limits.max_members:
                    raise BundleError("bundle", f"more than {limits.max_members} members")
                name = _member_name(info)
                if info.isdir() or not name:
                    continue
                total += info.size
                if total > limits.max_bytes:
                    raise BundleError(
                        info.name, f"the bundle unpacks to more than {limits.max_bytes} bytes"
                    )
                if name in members:
                    raise BundleError(info.name, "member appears twice")
                handle = archive.extractfile(info)
                members[name] = handle.read(info.size + 1) if handle else b""
    except (tarfile.TarError, EOFError, OSError, zlib.error, gzip.BadGzipFile) as exc:
        raise BundleError("bundle", f"not a readable gzipped tar: {exc}") from exc
    return members


# ---------------------------------------------------------------------------- dispatch
BundleReader = Callable[[Mapping[str, bytes], BundleRequest], dict[str, Any]]
"""Members + request → a raw policy document (what `parse_policy_document` checks)."""


def bundle_kind(members: Mapping[str, bytes]) -> str:
    """`PKG_EXPORT` when `pkg-bundle.json` is there, `OPA_BUNDLE` for a manifest with `wasm`."""
    if PKG_EXPORT_MARKER in members:
        return PKG_EXPORT
    if MANIFEST in members:
        return OPA_BUNDLE
    raise BundleError(
        "bundle", f"neither an OPA bundle ({MANIFEST}) nor a PKG export ({PKG_EXPORT_MARKER})"
    )


def bundle_document(raw: bytes, request: BundleRequest) -> dict[str, Any]:
    """A gzipped bundle of either kind → the raw policy document it stands for."""
    members = read_members(raw, request.limits)
    kind = bundle_kind(members)
    reader = BUNDLE_READERS.get(kind)
    if reader is None:
        raise BundleError("bundle", f"{kind} bundles are not supported by this server")
    return reader(members, request)


# ---------------------------------------------------------------------------- OPA bundles
def _json_member(members: Mapping[str, bytes], name: str, *, depth: int) -> Any:
    try:
        value = json.loads(members[name].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BundleError(f"/{name}", f"not valid JSON: {exc}") from exc
    if _depth(value) > depth:
        raise BundleError(f"/{name}", f"nested deeper than {depth} levels")
    return value


def _depth(value: Any) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _manifest(members: Mapping[str, bytes], limits: BundleLimits) -> dict[str, Any]:
    manifest = _json_member(members, MANIFEST, depth=limits.max_data_depth)
    where = f"/{MANIFEST}"
    if not isinstance(manifest, dict):
        raise BundleError(where, "must be a JSON object")
    wasm = manifest.get("wasm")
    if not isinstance(wasm, list) or not wasm:
        raise BundleError(where, "has no 'wasm' list: build the bundle with `opa build -t wasm`")
    for index, entry in enumerate(wasm):
        ok = isinstance(entry, dict) and all(
            isinstance(entry.get(key), str) and entry[key] for key in ("entrypoint", "module")
        )
        if not ok:
            raise BundleError(where, f"wasm[{index}] needs string 'entrypoint' and 'module'")
    roots = manifest.get("roots", [""])
    if not isinstance(roots, list) or not all(isinstance(root, str) for root in roots):
        raise BundleError(where, "'roots' must be a list of strings")
    revision = manifest.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise BundleError(where, "'revision' must be a string")
    return manifest


def _under_roots(path: str, roots: tuple[str, ...]) -> bool:
    """OPA's rule: a path is owned by a root when it equals it or lies below it."""
    return any(not root or path == root or path.startswith(root + "/") for root in roots)


def _module(members: Mapping[str, bytes], wasm: list[dict[str, str]]) -> bytes:
    modules = {entry["module"].lstrip("/") for entry in wasm}
    if len(modules) > 1:
        names = ", ".join(f"/{m}" for m in sorted(modules))
        raise BundleError(f"/{MANIFEST}", f"PKG runs one wasm module per snapshot; got {names}")
    name = modules.pop()
    module = members.get(name)
    if module is None:
        raise BundleError(f"/{name}", f"the manifest names module /{name}; the bundle lacks it")
    if not module.startswith(b"\x00asm"):
        raise BundleError(f"/{name}", "not a WebAssembly module (no \\0asm header)")
    return module


def merge_data(members: Mapping[str, bytes], roots: tuple[str, ...], limits: BundleLimits) -> Any:
    """Every `data.json` at its directory's path (`a/b/data.json` → `data.a.b`), as OPA merges:
    objects merge key by key; two files setting the same non-object path conflict."""
    data: dict[str, Any] = {}
    for name in sorted(members):
        directory, base = posixpath.split(name)
        if base in YAML_DATA_FILES:
            raise BundleError(f"/{name}", "YAML data is not supported yet: use data.json")
        if base not in DATA_FILES:
            continue
        if not _under_roots(directory, roots):
            raise BundleError(f"/{name}", f"outside the manifest's roots ({', '.join(roots)})")
        value = _json_member(members, name, depth=limits.max_data_depth)
        path = [part for part in directory.split("/") if part]
        if not path and not isinstance(value, dict):
            raise BundleError(f"/{name}", "the root data.json must be a JSON object")
        _merge_at(data, path, value, member=name)
    return data


def _merge_at(data: dict[str, Any], path: list[str], value: Any, *, member: str) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise BundleError(f"/{member}", f"conflicts with data at {'/'.join(path)}")
        node = child
    if not path:
        _merge_objects(node, value, member=member, where="")
    elif isinstance(node.get(path[-1]), dict) and isinstance(value, dict):
        _merge_objects(node[path[-1]], value, member=member, where="/".join(path))
    elif path[-1] in node:
        raise BundleError(f"/{member}", f"conflicts with data at {'/'.join(path)}")
    else:
        node[path[-1]] = value


def _merge_objects(
    target: dict[str, Any], source: dict[str, Any], *, member: str, where: str
) -> None:
    for key, value in source.items():
        here = f"{where}/{key}" if where else key
        if isinstance(target.get(key), dict) and isinstance(value, dict):
            _merge_objects(target[key], value, member=member, where=here)
        elif key in target:
            raise BundleError(f"/{member}", f"conflicts with data at {here}")
        else:
            target[key] = value


def read_opa_bundle(members: Mapping[str, bytes], limits: BundleLimits | None = None) -> OpaBundle:
    limits = limits or BundleLimits()
    manifest = _manifest(members, limits)
    roots = tuple(root.strip("/") for root in manifest.get("roots", [""]))
    wasm: list[dict[str, str]] = manifest["wasm"]
    entrypoints = tuple(dict.fromkeys(entry["entrypoint"].strip("/") for entry in wasm))
    for entrypoint in entrypoints:
        if not _under_roots(entrypoint, roots):
            raise BundleError(
                f"/{MANIFEST}", f"entrypoint {entrypoint} is outside the roots ({', '.join(roots)})"
            )
    return OpaBundle(
        module=_module(members, wasm),
        entrypoints=entrypoints,
        data=merge_data(members, roots, limits),
        revision=manifest.get("revision"),
        roots=roots,
    )


def opa_bundle_wasm_section(bundle: OpaBundle, *, entrypoint: str | None) -> dict[str, Any]:
    """The policy document's `wasm:` section for an OPA bundle (what snapshots store)."""
    return {
        "artifact": base64.b64encode(bundle.module).decode("ascii"),
        "entrypoint": entrypoint or bundle.entrypoints[0],
        "entrypoints": list(bundle.entrypoints),
        "data": bundle.data,
        "revision": bundle.revision,
    }


def opa_document(members: Mapping[str, bytes], request: BundleRequest) -> dict[str, Any]:
    """An OPA bundle + the request's version/env → a raw policy document (engine wasm).

    The version defaults to the manifest's `revision`."""
    bundle = read_opa_bundle(members, request.limits)
    wasm = opa_bundle_wasm_section(bundle, entrypoint=request.entrypoint)
    wasm["strict_builtin_errors"] = request.strict_builtin_errors
    document: dict[str, Any] = {
        "version": request.version or bundle.revision,
        "engine": "wasm",
        "wasm": wasm,
    }
    if request.env:
        document["env"] = request.env
    return document


BUNDLE_READERS: Final[dict[str, BundleReader]] = {OPA_BUNDLE: opa_document}
