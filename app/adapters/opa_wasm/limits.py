"""Sandbox limits for wasm policies, set once by the composition root."""

from __future__ import annotations

import math
from dataclasses import dataclass

WASM_PAGE = 65536
TICK_SECONDS = 0.001


@dataclass(frozen=True)
class WasmLimits:
    """Sandbox limits for every wasm evaluation (settings: `wasm_eval_timeout_ms`, ...)."""

    eval_timeout_ms: int = 100
    max_memory_mb: int = 64
    pool_size: int = 8

    @property
    def deadline_ticks(self) -> int:
        # the ticker sleeps at least TICK_SECONDS, so this many ticks is at least the timeout
        return max(1, math.ceil(self.eval_timeout_ms / (TICK_SECONDS * 1000)))

    @property
    def max_memory_pages(self) -> int:
        return max(1, self.max_memory_mb * 1024 * 1024 // WASM_PAGE)


_limits = WasmLimits()


def configure(limits: WasmLimits) -> None:
    """Set the limits used by wasm engines built from now on (the composition root calls this)."""
    global _limits
    _limits = limits


def current_limits() -> WasmLimits:
    return _limits
