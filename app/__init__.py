"""PKG: the policy-decision service. The seed's Python API is importable from here.

Names resolve lazily, so `import app.domain...` (e.g. in a CLI or a test of the pure core)
does not pull in the web framework, the database drivers or wasmtime. Resolving one of the
seed's names installs the engines and feed adapters PKG ships
(`app.entrypoints.composition.install_defaults`, explicit and idempotent), so
`PKGEvaluator(wasm_snapshot)` and `PKGManager(client, Redis())` work as the seed documents.
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
    "get_global_pkg_manager": "app.entrypoints.http.lifespan",
    "initialize_global_pkg_manager": "app.entrypoints.http.lifespan",
    "create_app": "app.entrypoints.http.app",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app' has no attribute {name!r}")
    from app.entrypoints.composition.defaults import install_defaults

    install_defaults()
    return getattr(importlib.import_module(module), name)
