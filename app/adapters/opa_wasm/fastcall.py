"""A fast path for calling `(i32...) -> i32?` exports.

`wasmtime.Func.__call__` re-reads the function's type and converts every argument through
`Val` on each call (~100 µs for `opa_eval`'s seven arguments). The ABI's exports only take
and return i32, so a caller can check the type once, at bind time, and then go straight to
`wasmtime_func_call_unchecked`: arguments and result share one buffer of raw values built once,
and the C function is called through a prototype of plain addresses, so ctypes converts
nothing but integers (an export that does nothing: 0.9 µs a call, against 1.7 µs through
`wasmtime_func_call` with typed arguments, timed when this replaced it on 2026-12-07;
`make bench-wasm` prints today's figure against `Func.__call__`). This leans on wasmtime-py's
ctypes bindings (`wasmtime._ffi`, `wasmtime._bindings`); if they are not what we expect, `bind`
falls back to `Func.__call__`.
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


# (context, func, args_and_results, their count, trap out) -> error: addresses as integers
_Prototype = ctypes.CFUNCTYPE(
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_void_p,
)


def _unchecked_call() -> Any:
    """`wasmtime_func_call_unchecked` through `_Prototype`, or None without it."""
    symbol = getattr(getattr(ffi, "dll", None), "wasmtime_func_call_unchecked", None)
    address = None if symbol is None else ctypes.cast(symbol, ctypes.c_void_p).value
    return None if address is None else _Prototype(address)


_UNCHECKED: Any = _unchecked_call()


def _fast_supported(store: wasmtime.Store, func: wasmtime.Func) -> bool:
    needed = ("wasmtime_val_raw_t", "wasm_trap_t", "wasmtime_error_t")
    if ffi is None or _UNCHECKED is None or not all(hasattr(ffi, name) for name in needed):
        return False
    if not hasattr(func, "_func") or not hasattr(store, "_context"):
        return False
    ty = func.type(store)
    i32 = wasmtime.ValType.i32()
    return all(p == i32 for p in ty.params) and all(r == i32 for r in ty.results)


def bind(store: wasmtime.Store, func: wasmtime.Func) -> I32Call:
    """A callable `(*i32 args) -> int` for `func` in `store` (0 when it returns nothing).

    Traps raise `wasmtime.Trap`, host errors `wasmtime.WasmtimeError`, as `Func.__call__` does.
    The type is checked here, once: the unchecked call relies on it.
    """
    if not _fast_supported(store, func):
        return _slow(store, func)
    ty = func.type(store)
    nparams, nresults = len(ty.params), len(ty.results)
    slots = max(nparams, nresults, 1)
    values: Any = (ffi.wasmtime_val_raw_t * slots)()  # the arguments in, the result out
    trap = ctypes.c_void_p()  # NULL unless the call trapped
    call_c = _UNCHECKED
    context = ctypes.cast(store._context(), ctypes.c_void_p).value
    addresses = (context, ctypes.addressof(func._func), ctypes.addressof(values), slots)
    trap_address = ctypes.addressof(trap)
    keep = (store, func)  # what the addresses point into lives as long as this closure

    def call(*args: int) -> int:
        for index, value in enumerate(args):
            values[index].i32 = value
        error = call_c(*addresses, trap_address)
        if error or trap.value:
            _raise_from(error, trap, keep)
        return int(values[0].i32) if nresults else 0

    return call


def _raise_from(error: int | None, trap: ctypes.c_void_p, _keep: object) -> None:
    """The exception for a failed unchecked call; the trap slot is NULL again afterwards."""
    caught, trap.value = trap.value, None
    _raise(
        ctypes.cast(error, ctypes.POINTER(ffi.wasmtime_error_t)) if error else None,
        ctypes.cast(caught, ctypes.POINTER(ffi.wasm_trap_t)) if caught else None,
    )


def _raise(error: Any, trap: Any) -> None:
    # a host import that raised left its exception in wasmtime-py's module global; consume it
    # so it cannot surface in some later, unrelated call
    pending = getattr(func_module, "LAST_EXCEPTION", None)
    if pending is not None and func_module is not None:
        func_module.LAST_EXCEPTION = None
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    raise wasmtime.Trap._from_ptr(trap)
