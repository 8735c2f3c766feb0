"""Compile policy.wat into policy.wasm beside it (`make wasm-example` runs this)."""

from __future__ import annotations

import sys
from pathlib import Path

import wasmtime

HERE = Path(__file__).resolve().parent


def build(out: Path = HERE / "policy.wasm") -> Path:
    out.write_bytes(wasmtime.wat2wasm((HERE / "policy.wat").read_text()))
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "policy.wasm"))
