"""A fast path for calling `(i32...) -> i32?` exports.

`wasmtime.Func.__call__` re-reads the function's type and converts every argument through
`Val` on each call (~100 µs for `opa_eval`'s seven arguments). The ABI's exports only take
and return i32, so a caller can build its argument and result buffers once and go straight to
`wasmtime_func_call`. This leans on wasmtime-py's ctypes bindings (`wasmtime._ffi`); if they
are not what we expect, `bind` falls back to `Func.__call__`.
"""

from __future__ import annotations

import ctypes
import importlib
from collections.abc import Callable
from typing import Any

import wasmtime


def _private(name: str) -> Any:
    try:  # private, version-dependent: checked at bind time, never trusted blindly
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - other wasmtime-py layouts
        return None


ffi = _private("wasmtime._ffi")
func_module = _private("wasmtime._func")

I32Call = Callable[..., int]


def _slow(store: wasmtime.Store, func: wasmtime.Func) -> I32Call:
    def call(*args: int) -> int:
        result = func(store, *args)
        return 0 if result is None else int(result)

    return call


def _fast_supported(store: wasmtime.Store, func: wasmtime.Func) -> bool:
    needed = ("wasmtime_func_call", "wasmtime_val_t", "WASMTIME_I32", "wasm_trap_t")
    if ffi is None or not all(hasattr(ffi, name) for name in needed):
        return False
    if not hasattr(func, "_func") or not hasattr(store, "_context"):
        return False
    ty = func.type(store)
    i32 = wasmtime.ValType.i32()
    return all(p == i32 for p in ty.params) and all(r == i32 for r in ty.results)


def bind(store: wasmtime.Store, func: wasmtime.Func) -> I32Call:
    """A callable `(*i32 args) -> int` for `func` in `store` (0 when it returns nothing).

    Traps raise `wasmtime.Trap`, host errors `wasmtime.WasmtimeError`, as `Func.__call__` does.
    """
    if not _fast_supported(store, func):
        return _slow(store, func)
    ty = func.type(store)
    nparams, nresults = len(ty.params), len(ty.results)
    params: Any = (ffi.wasmtime_val_t * max(nparams, 1))()
    results: Any = (ffi.wasmtime_val_t * max(nresults, 1))()
    kind = ffi.WASMTIME_I32.value
    for slot in params:
        slot.kind = kind
    context = store._context()
    func_ref = ctypes.byref(func._func)
    raw_call = ffi.wasmtime_func_call
    trap_type = ctypes.POINTER(ffi.wasm_trap_t)

    def call(*args: int) -> int:
        for index, value in enumerate(args):
            params[index].of.i32 = value
        trap = trap_type()
        error = raw_call(context, func_ref, params, nparams, results, nresults, ctypes.byref(trap))
        if error or trap:
            _raise(error, trap)
        return int(results[0].of.i32) if nresults else 0

    return call


def _raise(error: Any, trap: Any) -> None:
    # a host import that raised left its exception in wasmtime-py's module global; consume it
    # so it cannot surface in some later, unrelated call
    pending = getattr(func_module, "LAST_EXCEPTION", None)
    if pending is not None and func_module is not None:
        func_module.LAST_EXCEPTION = None
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    raise wasmtime.Trap._from_ptr(trap)
