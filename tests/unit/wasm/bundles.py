"""OPA bundles for tests, built with `tarfile` as `opa build -t wasm` lays them out."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

from tests.unit.wasm import wat

Member = tuple[tarfile.TarInfo, bytes]


def member(name: str, content: bytes | str | Any) -> Member:
    raw = content if isinstance(content, bytes) else (
        content.encode() if isinstance(content, str) else json.dumps(content).encode()
    )  # fmt: skip  # one conversion per content kind
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    return info, raw


def tar_gz(members: list[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, raw in members:
            archive.addfile(info, io.BytesIO(raw) if info.isfile() else None)
    return buffer.getvalue()


def manifest(*entrypoints: str, revision: str | None = "rev-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "wasm": [{"entrypoint": e, "module": "/policy.wasm"} for e in entrypoints],
        "rego_version": 1,
        **extra,
    }
    if revision is not None:
        body["revision"] = revision
    return body


def opa_bundle(
    data: dict[str, Any] | None = None,
    *,
    entrypoints: tuple[str, ...] = ("echo_data", "echo_input", "const"),
    module: bytes | None = None,
    extra: list[Member] | None = None,
    **manifest_fields: Any,
) -> bytes:
    """The kitchen module (entrypoint `echo_data` answers the data document) with `data`:
    {"a/b/data.json": {...}} → member `/a/b/data.json`."""
    members = [
        member("/.manifest", manifest(*entrypoints, **manifest_fields)),
        member("/policy.wasm", wat.kitchen_wasm() if module is None else module),
    ]
    members += [member(f"/{path}", content) for path, content in (data or {}).items()]
    return tar_gz(members + (extra or []))
