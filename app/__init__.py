"""PKG: the policy-decision service. The seed's Python API is importable from here.

Names resolve lazily, so `import app.domain...` (e.g. in a CLI or a test of the pure core)
does not pull in the web framework, the database drivers or wasmtime.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PKGClient": "app.adapters.db.client",
    "PKGEvaluator": "app.services.evaluator",
    "PKGManager": "app.services.manager",
    "PKGSnapshotData": "app.domain.snapshot",
    "OpaWasm": "app.adapters.opa_wasm",
    "NativeRuleEngine": "app.domain.native",
    "ENGINE_REGISTRY": "app.domain.engine",
    "register_engine": "app.domain.engine",
    "register_builtin": "app.adapters.opa_wasm.registry",
    "PolicyEngine": "app.domain.engine",
    "get_global_pkg_manager": "app.lifespan",
    "initialize_global_pkg_manager": "app.lifespan",
    "create_app": "app.main",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app' has no attribute {name!r}")
    if name in ("ENGINE_REGISTRY", "register_engine", "PKGEvaluator"):
        # every built-in engine registers itself on import; make sure both are there
        importlib.import_module("app.domain.native")
        importlib.import_module("app.adapters.opa_wasm")
    if name == "PKGManager":
        importlib.import_module("app.lifespan")  # teaches it to wrap a raw redis client
    return getattr(importlib.import_module(module), name)
