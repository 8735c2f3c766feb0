"""A bounded pool of policy instances: at most `size` exist, each used by one thread at a time."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from app.adapters.opa_wasm.errors import WasmEvaluationError

T = TypeVar("T")


class InstancePool(Generic[T]):
    """Instances are created lazily by `factory`; a trapped one is discarded, not returned."""

    def __init__(self, factory: Callable[[], T], *, size: int, wait_seconds: float) -> None:
        self._factory = factory
        self._idle: deque[T] = deque()  # append/pop are atomic; the semaphore bounds it
        self._slots = threading.BoundedSemaphore(size)
        self._wait_seconds = wait_seconds
        self.created = 0  # instances built by the factory: a trap makes the next acquire build
        self._created_lock = threading.Lock()

    def seed(self, instance: T) -> None:
        """Hand the pool an instance built elsewhere (the one load-time checks used)."""
        self._idle.append(instance)

    def acquire(self) -> T:
        if not self._slots.acquire(timeout=self._wait_seconds):
            raise WasmEvaluationError(
                f"no wasm instance became free within {self._wait_seconds:g} s"
            )
        try:
            return self._idle.pop()
        except IndexError:
            pass
        try:
            instance = self._factory()
        except BaseException:
            self._slots.release()
            raise
        with self._created_lock:
            self.created += 1
        return instance

    def release(self, instance: T) -> None:
        self._idle.append(instance)
        self._slots.release()

    def discard(self, _instance: T) -> None:
        """Drop an instance whose state can no longer be trusted; its slot frees for a new one."""
        self._slots.release()
