"""The evaluators a replica holds: the active one plus an LRU of recent versions."""

from __future__ import annotations

import threading
from collections import OrderedDict

from app.services.evaluator import PKGEvaluator

MAX_EVALUATOR_CACHE_SIZE = 3


class EvaluatorCache:
    """Thread-safe. The active evaluator is swapped with one assignment under `threading.Lock`
    (readers on other threads see the old or the new one, never a half-built one) and is
    never evicted from the LRU."""

    def __init__(self, limit: int = MAX_EVALUATOR_CACHE_SIZE) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._active: PKGEvaluator | None = None
        self._lru: OrderedDict[str, PKGEvaluator] = OrderedDict()

    @property
    def active(self) -> PKGEvaluator | None:
        return self._active  # a single attribute read is atomic; no lock on the hot path

    def swap(self, evaluator: PKGEvaluator) -> PKGEvaluator | None:
        """Make `evaluator` active; return the one it replaced."""
        with self._lock:
            previous = self._active
            self._active = evaluator
            self._remember(evaluator)
            return previous

    def get(self, version: str) -> PKGEvaluator | None:
        with self._lock:
            evaluator = self._lru.get(version)
            if evaluator is not None:
                self._lru.move_to_end(version)
            return evaluator

    def put(self, evaluator: PKGEvaluator) -> None:
        with self._lock:
            self._remember(evaluator)

    def versions(self) -> list[str]:
        """Most recently used first."""
        with self._lock:
            return list(reversed(self._lru))

    def _remember(self, evaluator: PKGEvaluator) -> None:
        self._lru[evaluator.version] = evaluator
        self._lru.move_to_end(evaluator.version)
        active = self._active.version if self._active is not None else None
        for version in list(self._lru):
            if len(self._lru) <= self.limit:
                break
            if version != active:
                del self._lru[version]
