"""One instantiated OPA policy module: its own store, capped memory and host imports.

An instance is used by one thread at a time (the pool sees to it). It speaks the OPA Wasm ABI
1.x: data is parsed into the instance once and the heap pointer after it is kept; each
evaluation starts from that pointer again, so nothing an evaluation allocates survives it.
"""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from typing import Final

import wasmtime

from app.adapters.opa_wasm.builtins import BuiltinContext
from app.adapters.opa_wasm.errors import WasmEvaluationError
from app.adapters.opa_wasm.fastcall import I32Call, bind
from app.adapters.opa_wasm.limits import WASM_PAGE, WasmLimits
from app.adapters.opa_wasm.registry import HostBuiltin
from app.domain.errors import EngineLoadError
from app.services.logs import get_logger

log = get_logger("pkg.wasm")

_libc = ctypes.CDLL(None)
_strnlen = _libc.strnlen
_strnlen.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_strnlen.restype = ctypes.c_size_t

_I32 = wasmtime.ValType.i32()
_REQUIRED: Final = ("opa_malloc", "opa_json_parse", "opa_json_dump", "opa_heap_ptr_get")
_CONTEXT_CALLS: Final = (
    "opa_heap_ptr_set",
    "opa_eval_ctx_new",
    "opa_eval_ctx_set_input",
    "opa_eval_ctx_set_data",
    "opa_eval_ctx_get_result",
    "eval",
)


@dataclass(frozen=True)
class PolicyLayout:
    """What the host needs to know about a module, read from its first instance."""

    abi: tuple[int, int]
    entrypoint_id: int
    builtins: dict[int, HostBuiltin]
    strict_builtin_errors: bool = False


class _HostAbort(Exception):
    """Raised inside a host import to make wasmtime trap; the message is kept on the instance."""


def _memory_import(module: wasmtime.Module) -> wasmtime.MemoryType:
    for imported in module.imports:
        is_memory = imported.module == "env" and imported.name == "memory"
        if is_memory and isinstance(imported.type, wasmtime.MemoryType):
            return imported.type
    raise EngineLoadError("wasm module does not import env.memory (not an OPA policy?)")


class WasmInstance:
    """A module instance with the OPA host imports linked in."""

    def __init__(
        self, engine: wasmtime.Engine, module: wasmtime.Module, *, limits: WasmLimits
    ) -> None:
        self._limits = limits
        self._ticks = limits.deadline_ticks
        self._builtins: dict[int, HostBuiltin] = {}
        self._strict = False
        self._failure: str | None = None
        self._context: BuiltinContext | None = None
        self._store = store = wasmtime.Store(engine)
        store.set_limits(memory_size=limits.max_memory_pages * WASM_PAGE)
        store.set_epoch_deadline(self._ticks)
        self._memory = self._create_memory(store, module, limits)
        self._base = 0
        self._size = 0
        linker = self._linker(engine)
        linker.define(store, "env", "memory", self._memory)
        try:
            instance = linker.instantiate(store, module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise EngineLoadError(f"wasm module cannot be instantiated: {exc}") from exc
        self._exports = instance.exports(store)
        self._func = self._exported_funcs()
        self._fast: dict[str, I32Call] = {name: bind(store, f) for name, f in self._func.items()}
        self._heap = 0
        self._data = 0
        self._entrypoint_id = 0
        self._one_shot = False
        self._context_value = 0  # the evaluation context of a module without one-shot opa_eval
        self._context_entrypoint = 0

    @staticmethod
    def _create_memory(
        store: wasmtime.Store, module: wasmtime.Module, limits: WasmLimits
    ) -> wasmtime.Memory:
        wanted = _memory_import(module).limits
        cap = limits.max_memory_pages
        if wanted.min > cap:
            raise EngineLoadError(
                f"wasm module needs {wanted.min} memory pages; the cap is {cap} "
                f"({limits.max_memory_mb} MiB)"
            )
        maximum = cap if wanted.max is None else min(cap, wanted.max)
        return wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(wanted.min, maximum)))

    def _linker(self, engine: wasmtime.Engine) -> wasmtime.Linker:
        linker = wasmtime.Linker(engine)
        one = wasmtime.FuncType([_I32], [])
        linker.define_func("env", "opa_abort", one, self._abort, access_caller=True)
        linker.define_func("env", "opa_println", one, self._println, access_caller=True)
        for arity in range(5):
            ty = wasmtime.FuncType([_I32] * (arity + 2), [_I32])
            linker.define_func("env", f"opa_builtin{arity}", ty, self._call_builtin, True)
        return linker

    def _exported_funcs(self) -> dict[str, wasmtime.Func]:
        funcs = {}
        for name in self._exports:
            item = self._exports[name]
            if isinstance(item, wasmtime.Func):
                funcs[name] = item
        missing = [name for name in _REQUIRED if name not in funcs]
        if missing:
            raise EngineLoadError(f"wasm module lacks OPA ABI exports: {', '.join(missing)}")
        return funcs

    # -- load time -------------------------------------------------------------------------

    def abi_version(self) -> tuple[int, int]:
        """`opa_wasm_abi_version`/`opa_wasm_abi_minor_version`; a module without them is 1.0."""
        return (
            self._global("opa_wasm_abi_version", 1),
            self._global("opa_wasm_abi_minor_version", 0),
        )

    def _global(self, name: str, default: int) -> int:
        item = self._exports.get(name)
        if isinstance(item, wasmtime.Global):
            return int(item.value(self._store))
        return default

    def declared(self, export: str) -> dict[str, int]:
        """A name → id map a module exports as a function (`entrypoints`, `builtins`)."""
        if export not in self._func:
            return {}
        self._arm()
        try:
            value = self._call(export)
            decoded = json.loads(self._dump(self._store, value))
        except (WasmEvaluationError, ValueError) as exc:
            raise EngineLoadError(f"wasm module's {export}() is unreadable: {exc}") from exc
        if not isinstance(decoded, dict):
            raise EngineLoadError(f"wasm module's {export}() is not an object")
        return {str(name): int(ident) for name, ident in decoded.items()}

    def prepare(self, layout: PolicyLayout, data: bytes) -> None:
        """Bind builtins and entrypoint, parse `data` once and keep the heap pointer after it.

        A module without the one-shot `opa_eval` (ABI 1.0 and 1.1) also gets its evaluation
        context here, below that pointer, with the data set once: each evaluation only sets
        its input (and, when it differs, its entrypoint) instead of three more calls."""
        self._builtins = layout.builtins
        self._strict = layout.strict_builtin_errors
        self._entrypoint_id = layout.entrypoint_id
        opa_eval = self._func.get("opa_eval")
        self._one_shot = (
            layout.abi >= (1, 2)
            and opa_eval is not None
            and len(opa_eval.type(self._store).params) == 7
        )
        if not self._one_shot:
            missing = [name for name in _CONTEXT_CALLS if name not in self._func]
            if missing:
                raise EngineLoadError(f"wasm module lacks OPA ABI exports: {', '.join(missing)}")
        self._arm()
        try:
            self._data = self._parse(self._store, data)
            if not self._one_shot:
                self._context_value = self._call("opa_eval_ctx_new")
                self._call("opa_eval_ctx_set_data", self._context_value, self._data)
                self._context_entrypoint = self._set_entrypoint(0)
            self._heap = int(self._call("opa_heap_ptr_get"))
        except WasmEvaluationError as exc:
            raise EngineLoadError(f"wasm policy data could not be loaded: {exc}") from exc

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(self, payload: bytes, entrypoint_id: int | None = None) -> bytes:
        """Evaluate an entrypoint (default: the layout's) on `payload` (JSON input); the JSON
        result set's bytes."""
        self._failure = None
        self._context = None
        self._arm()  # one deadline for the whole evaluation, however many calls it takes
        entrypoint = self._entrypoint_id if entrypoint_id is None else entrypoint_id
        if self._one_shot:
            return self._evaluate_one_shot(payload, entrypoint)
        return self._evaluate_with_context(payload, entrypoint)

    def _evaluate_one_shot(self, payload: bytes, entrypoint: int) -> bytes:
        store, heap, size = self._store, self._heap, len(payload)
        self._write(store, heap, payload)
        # opa_eval resets the heap to its heap_ptr argument itself: no opa_heap_ptr_set needed
        addr = self._call("opa_eval", 0, entrypoint, self._data, heap, size, heap + size, 0)
        return self._read_cstring(store, addr)

    def _evaluate_with_context(self, payload: bytes, entrypoint: int) -> bytes:
        store, ctx = self._store, self._context_value
        if entrypoint != self._context_entrypoint:
            self._context_entrypoint = self._set_entrypoint(entrypoint)
        self._call("opa_heap_ptr_set", self._heap)
        value = self._parse(store, payload)
        self._call("opa_eval_ctx_set_input", ctx, value)
        code = self._call("eval", ctx)
        if code != 0:
            raise WasmEvaluationError(f"wasm eval() returned error code {code}")
        result = self._call("opa_eval_ctx_get_result", ctx)
        return self._dump(store, result)

    def _set_entrypoint(self, entrypoint: int) -> int:
        if "opa_eval_ctx_set_entrypoint" in self._func:
            self._call("opa_eval_ctx_set_entrypoint", self._context_value, entrypoint)
        elif entrypoint != 0:
            raise WasmEvaluationError("this ABI 1.0 module evaluates only its default entrypoint")
        return entrypoint

    def _arm(self) -> None:
        """The deadline, counted from now (epoch ticks), for everything until the next arm."""
        self._store.set_epoch_deadline(self._ticks)

    def _call(self, name: str, *args: int) -> int:
        try:
            return self._fast[name](*args)
        except Exception as exc:
            raise self._error(exc, name) from exc

    def _error(self, exc: Exception, name: str) -> WasmEvaluationError:
        if self._failure is not None:
            return WasmEvaluationError(self._failure)
        timeout_ms = self._limits.eval_timeout_ms
        if isinstance(exc, wasmtime.Trap) and exc.trap_code == wasmtime.TrapCode.INTERRUPT:
            return WasmEvaluationError(f"wasm evaluation exceeded {timeout_ms} ms deadline")
        text = exc.message if isinstance(exc, wasmtime.Trap) else str(exc)
        # wasmtime puts a backtrace first and the cause ("wasm trap: ...") last
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return WasmEvaluationError(f"wasm {name} trapped: {lines[-1] if lines else 'unknown'}")

    # -- memory and values -----------------------------------------------------------------

    def _refresh(self, store: wasmtime.Store | wasmtime.Caller) -> None:
        # memory never moves (runtime config) and never shrinks: only growth changes these
        ptr = self._memory.data_ptr(store)
        self._base = ctypes.cast(ptr, ctypes.c_void_p).value or 0
        self._size = self._memory.data_len(store)

    def _write(self, store: wasmtime.Store | wasmtime.Caller, addr: int, data: bytes) -> None:
        end = addr + len(data)
        if end > self._size:
            self._refresh(store)
            if end > self._size:
                self._grow(store, end)
        ctypes.memmove(self._base + addr, data, len(data))

    def _grow(self, store: wasmtime.Store | wasmtime.Caller, end: int) -> None:
        try:
            self._memory.grow(store, -(-(end - self._size) // WASM_PAGE))
        except wasmtime.WasmtimeError as exc:
            raise WasmEvaluationError(
                f"wasm memory cap of {self._limits.max_memory_mb} MiB exhausted "
                f"(writing {end - self._heap} bytes of input)"
            ) from exc
        self._refresh(store)

    def _read_cstring(self, store: wasmtime.Store | wasmtime.Caller, addr: int) -> bytes:
        if addr >= self._size:
            self._refresh(store)
        if not 0 < addr < self._size:
            raise WasmEvaluationError(f"wasm returned an address out of bounds: {addr}")
        length = _strnlen(self._base + addr, self._size - addr)
        if length == self._size - addr:
            self._refresh(store)  # the string may run into memory grown since we last looked
            length = _strnlen(self._base + addr, self._size - addr)
            if length == self._size - addr:
                raise WasmEvaluationError("wasm returned an unterminated string")
        return ctypes.string_at(self._base + addr, length)

    def _parse(self, store: wasmtime.Store | wasmtime.Caller, data: bytes) -> int:
        addr = self._invoke(store, "opa_malloc", len(data))
        self._write(store, addr, data)
        value = self._invoke(store, "opa_json_parse", addr, len(data))
        if not value:
            raise WasmEvaluationError("wasm opa_json_parse rejected the value")
        return int(value)

    def _dump(self, store: wasmtime.Store | wasmtime.Caller, value: int) -> bytes:
        addr = self._invoke(store, "opa_json_dump", value)
        return self._read_cstring(store, addr)

    def _invoke(self, store: wasmtime.Store | wasmtime.Caller, name: str, *args: int) -> int:
        if isinstance(store, wasmtime.Store):
            return self._call(name, *args)
        return int(self._func[name](store, *args))  # inside a host import: traps propagate

    # -- host imports ----------------------------------------------------------------------

    def _fail(self, message: str) -> _HostAbort:
        self._failure = message
        return _HostAbort(message)

    def _abort(self, caller: wasmtime.Caller, addr: int) -> None:
        try:
            text = self._read_cstring(caller, addr).decode("utf-8", "replace")
        except WasmEvaluationError:
            text = f"<unreadable message at {addr}>"
        raise self._fail(f"wasm policy aborted: {text}")

    def _println(self, caller: wasmtime.Caller, addr: int) -> None:
        try:
            text = self._read_cstring(caller, addr).decode("utf-8", "replace")
        except WasmEvaluationError:
            return
        log.info("wasm_println", message=text)

    def _call_builtin(self, caller: wasmtime.Caller, builtin_id: int, _ctx: int, *args: int) -> int:
        builtin = self._builtins.get(builtin_id)
        if builtin is None:
            raise self._fail(f"wasm policy called unknown builtin id {builtin_id}")
        if builtin.arity is not None and builtin.arity != len(args):
            raise self._fail(
                f"builtin {builtin.name} takes {builtin.arity} arguments; the policy passed "
                f"{len(args)}"
            )
        try:
            values = [json.loads(self._dump(caller, addr)) for addr in args]
        except (WasmEvaluationError, ValueError) as exc:
            raise self._fail(f"builtin {builtin.name}: unreadable argument: {exc}") from exc
        if self._context is None:
            self._context = BuiltinContext()
        try:
            result = builtin.call(self._context, *values)
            encoded = json.dumps(result, separators=(",", ":"), allow_nan=False).encode()
        except Exception as exc:  # a builtin's failure, whatever it raised, is the policy's
            if self._strict:
                raise self._fail(f"builtin {builtin.name} failed: {exc}") from exc
            log.debug("wasm_builtin_undefined", builtin=builtin.name, error=str(exc))
            return 0  # NULL: OPA's non-strict semantics make the expression undefined
        return self._parse(caller, encoded)
