"""The process-wide wasm runtime: one `wasmtime.Engine`, its epoch ticker and the
compiled-module cache (one `Module` per artifact checksum, shared by every instance)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import wasmtime

from app.adapters.opa_wasm.limits import TICK_SECONDS
from app.domain.errors import EngineLoadError

_MODULE_CACHE_SIZE = 32


class WasmRuntime:
    """One epoch-interruptible engine per process, ticked by a daemon thread."""

    def __init__(self) -> None:
        config = wasmtime.Config()
        config.epoch_interruption = True
        # instances cache their memory's base address: growth must never move it (the default
        # 4 GiB reservation on 64-bit hosts is far above any cap we allow)
        config.memory_may_move = False
        self.engine = wasmtime.Engine(config)
        self._modules: OrderedDict[str, wasmtime.Module] = OrderedDict()
        self._lock = threading.Lock()
        ticker = threading.Thread(target=self._tick, name="opa-wasm-epoch", daemon=True)
        ticker.start()

    def _tick(self) -> None:
        engine = self.engine
        while True:
            time.sleep(TICK_SECONDS)
            engine.increment_epoch()

    def module(self, checksum: str, wasm_bytes: bytes) -> wasmtime.Module:
        """The compiled module for `checksum`, compiling `wasm_bytes` on first use."""
        with self._lock:
            cached = self._modules.get(checksum)
            if cached is not None:
                self._modules.move_to_end(checksum)
                return cached
        try:
            module = wasmtime.Module(self.engine, wasm_bytes)
        except wasmtime.WasmtimeError as exc:
            raise EngineLoadError(f"wasm artifact does not compile: {exc}") from exc
        with self._lock:
            self._modules[checksum] = module
            while len(self._modules) > _MODULE_CACHE_SIZE:
                self._modules.popitem(last=False)
        return module


_runtime: WasmRuntime | None = None
_runtime_lock = threading.Lock()


def runtime() -> WasmRuntime:
    """The process's runtime, started on first use (nothing runs at import time)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = WasmRuntime()
        return _runtime
