"""OPA WebAssembly policies on wasmtime (DESIGN.md §4).

`install_default_engines()` (app/entrypoints/composition) registers `build_wasm_engine` as the
`wasm` engine type (nothing registers at import). Without wasmtime installed, `wasm`
snapshots get `OpaWasmFallback`, which evaluates to an empty decision marked `wasm-fallback`.
"""

from __future__ import annotations

import importlib.util

from app.adapters.opa_wasm.errors import WasmEvaluationError
from app.adapters.opa_wasm.fallback import FALLBACK_RULE_ID, OpaWasmFallback
from app.adapters.opa_wasm.limits import WasmLimits, configure, current_limits
from app.domain.engine import PolicyEngine
from app.domain.snapshot import PKGSnapshotData
from app.services.logs import get_logger

log = get_logger("pkg.wasm")

WASM_RUNTIME_AVAILABLE: bool = importlib.util.find_spec("wasmtime") is not None

if WASM_RUNTIME_AVAILABLE:
    try:
        from app.adapters.opa_wasm.policy import OpaWasm
    except ImportError:  # installed but broken (e.g. no native library for this platform)
        WASM_RUNTIME_AVAILABLE = False


def build_wasm_engine(snapshot: PKGSnapshotData) -> PolicyEngine:
    """The `wasm` engine factory: `OpaWasm`, or the fallback when wasmtime is unavailable."""
    if not WASM_RUNTIME_AVAILABLE:
        log.warning("wasm_runtime_unavailable", snapshot=snapshot.version)
        return OpaWasmFallback(snapshot)
    return OpaWasm.from_snapshot(snapshot)


__all__ = [
    "FALLBACK_RULE_ID",
    "WASM_RUNTIME_AVAILABLE",
    "OpaWasm",
    "OpaWasmFallback",
    "WasmEvaluationError",
    "WasmLimits",
    "build_wasm_engine",
    "configure",
    "current_limits",
]
