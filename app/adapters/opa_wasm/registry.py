"""Which host builtins a wasm policy can call: PKG's own (`BUILTINS`) plus custom ones.

A deployment adds builtins without forking, in either of two ways:

- in Python, before snapshots load: `register_builtin("custom.func", fn, arity)`;
- as a package: an entry point in the `pkg.builtins` group, named after the builtin, pointing
  at the function (its arity is its number of positional parameters, or its `pkg_arity`
  attribute). Entry points are read once, on the first load of a wasm policy.

A custom builtin takes `arity` JSON values and returns a JSON value. Raising makes the call
undefined (OPA's non-strict semantics) unless the snapshot sets strict builtin errors.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Final

from app.adapters.opa_wasm.builtins import BUILTINS, Builtin, BuiltinContext
from app.adapters.opa_wasm.builtins_crypto import CRYPTO_BUILTINS
from app.adapters.opa_wasm.builtins_encoding import ENCODING_BUILTINS
from app.adapters.opa_wasm.builtins_match import MATCH_BUILTINS
from app.adapters.opa_wasm.builtins_time import TIME_BUILTINS
from app.adapters.opa_wasm.builtins_units import UNITS_BUILTINS
from app.services.logs import get_logger

log = get_logger("pkg.wasm")

ENTRY_POINT_GROUP: Final = "pkg.builtins"
MAX_ARITY: Final = 4  # the ABI's opa_builtin0..4

STANDARD_BUILTINS: Final[dict[str, Builtin]] = {
    **BUILTINS,
    **TIME_BUILTINS,
    **ENCODING_BUILTINS,
    **MATCH_BUILTINS,
    **CRYPTO_BUILTINS,
    **UNITS_BUILTINS,
}
"""Every builtin PKG implements itself, by OPA name (the README lists them)."""


@dataclass(frozen=True)
class HostBuiltin:
    """One builtin as the host dispatches it: `arity` None = not checked (PKG's own)."""

    name: str
    call: Builtin
    arity: int | None = None


_custom: dict[str, HostBuiltin] = {}
_lock = threading.Lock()
_entry_points_loaded = False


def register_builtin(name: str, fn: Callable[..., Any], arity: int) -> None:
    """Make `fn` the host implementation of builtin `name` (replacing any earlier one)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a builtin needs a non-empty name such as custom.func")
    if isinstance(arity, bool) or not isinstance(arity, int) or not 0 <= arity <= MAX_ARITY:
        raise ValueError(f"builtin {name}: arity must be 0..{MAX_ARITY}, got {arity!r}")
    if not callable(fn):
        raise TypeError(f"builtin {name}: {fn!r} is not callable")

    def call(_ctx: BuiltinContext, *args: Any) -> Any:
        return fn(*args)

    with _lock:
        _custom[name] = HostBuiltin(name, call, arity)


def unregister_builtin(name: str) -> None:
    """Forget a custom builtin (tests; a deployment rarely needs it)."""
    with _lock:
        _custom.pop(name, None)


def _arity_of(fn: Callable[..., Any]) -> int:
    declared = getattr(fn, "pkg_arity", None)
    if isinstance(declared, int):
        return declared
    parameters = inspect.signature(fn).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty)


def load_entry_points(*, force: bool = False) -> list[str]:
    """Register every `pkg.builtins` entry point (once per process unless `force`)."""
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return []
    _entry_points_loaded = True
    loaded = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            fn = entry.load()
            register_builtin(entry.name, fn, _arity_of(fn))
        except Exception as exc:  # one broken plugin must not hide the others
            log.error("builtin_entry_point_failed", name=entry.name, error=str(exc))
            continue
        loaded.append(entry.name)
    if loaded:
        log.info("builtin_entry_points_loaded", builtins=sorted(loaded))
    return loaded


def lookup(name: str) -> HostBuiltin | None:
    custom = _custom.get(name)
    if custom is not None:
        return custom
    builtin = STANDARD_BUILTINS.get(name)
    return HostBuiltin(name, builtin) if builtin is not None else None


def resolve_builtins(declared: dict[str, int]) -> dict[int, HostBuiltin]:
    """The module's `builtins()` map (name → id) → id → its host builtin.

    Raises `LookupError` naming every builtin that is neither PKG's nor registered.
    """
    load_entry_points()
    found = {name: lookup(name) for name in declared}
    missing = sorted(name for name, builtin in found.items() if builtin is None)
    if missing:
        raise LookupError(", ".join(missing))
    return {int(declared[name]): builtin for name, builtin in found.items() if builtin}
