"""Build `bundle.tar.gz` from this folder, laid out as `opa build -t wasm` lays out a bundle:
`/.manifest`, `/policy.wasm` (compiled here from `policy.wat`) and `/app/rbac/data.json`.

    python examples/wasm/rbac/build.py            # writes examples/wasm/rbac/bundle.tar.gz
"""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import wasmtime

HERE = Path(__file__).resolve().parent
DATA_FILES = ("app/rbac/data.json",)


def _add(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = 0  # reproducible: the same sources give the same bytes
    archive.addfile(info, io.BytesIO(content))


def build_bundle(*, data: dict[str, bytes] | None = None) -> bytes:
    """The bundle's bytes; `data` replaces data files by path (the bench's 1,000 grants)."""
    module = bytes(wasmtime.wat2wasm((HERE / "policy.wat").read_text()))
    files = {name: (HERE / name).read_bytes() for name in DATA_FILES}
    files.update(data or {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        _add(archive, "/.manifest", (HERE / ".manifest").read_bytes())
        _add(archive, "/policy.wasm", module)
        for name, content in sorted(files.items()):
            _add(archive, f"/{name}", content)
    return buffer.getvalue()


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "bundle.tar.gz"
    target.write_bytes(build_bundle())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
