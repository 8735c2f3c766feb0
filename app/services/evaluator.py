"""PKGEvaluator: one loaded snapshot behind one `evaluate()`, whatever the engine."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from app.domain.engine import PolicyEngine, build_engine
from app.domain.errors import FactsError
from app.domain.facts import DEFAULT_MAX_DEPTH, validate_facts
from app.domain.snapshot import PKGSnapshotData
from app.services.logs import get_logger, structlog_stream

log = get_logger("pkg.evaluator")

DEFAULT_MAX_FACTS_DEPTH: Final = DEFAULT_MAX_DEPTH


_DEBUG_BY_WRAPPER: dict[Any, bool] = {}
_DEBUG_RECHECK_S: Final = 1.0
_debug_known: list[Any] = [0.0, False]  # [recheck after (monotonic), enabled]


def _debug_enabled() -> bool:
    """Would `log.debug` emit, under the current logging configuration? Read again at most
    once a second: `structlog.get_config()` builds a dict, too dear for every decision."""
    now = time.monotonic()
    if now < _debug_known[0]:
        return bool(_debug_known[1])
    if not structlog_stream():  # a library: the application's `logging` configuration decides
        _debug_known[:] = [now + _DEBUG_RECHECK_S, log.is_enabled_for(logging.DEBUG)]
        return bool(_debug_known[1])
    wrapper = structlog.get_config()["wrapper_class"]
    enabled = _DEBUG_BY_WRAPPER.get(wrapper)
    if enabled is None:
        level = getattr(wrapper, "get_effective_level", None)
        try:
            enabled = level is None or level(None) <= logging.DEBUG
        except Exception:  # a wrapper class whose level needs an instance: assume it logs
            enabled = True
        _DEBUG_BY_WRAPPER[wrapper] = enabled
    _debug_known[:] = [now + _DEBUG_RECHECK_S, enabled]
    return enabled


class PKGEvaluator:
    """Compiles a snapshot once; `evaluate` is sync, thread-safe and never raises for a policy
    failure (it returns the error envelope). Bad facts raise `FactsError` (a ValueError).

    The engine comes from the registry (`install_default_engines()` in app/entrypoints/composition
    puts `native` and `wasm` there); an engine that cannot load the snapshot raises a
    `ValueError` subclass (`UnknownEngineError`, `EngineLoadError`). `loaded_at` is a Unix time
    (float), as in the seed; `loaded_at_iso` is the same instant as an aware datetime."""

    def __init__(self, snapshot: PKGSnapshotData) -> None:
        # the one verification: engines trust a verified snapshot. One built by hand without a
        # checksum (`checksum=None`) has nothing to verify: it carries the one computed here
        checksum = snapshot.verify_checksum()
        if snapshot.checksum is None:
            snapshot = replace(snapshot, checksum=checksum)
        self.snapshot = snapshot
        self.version = snapshot.version
        self.engine_type = snapshot.engine
        self.checksum: str = checksum
        self.engine: PolicyEngine = build_engine(snapshot)
        # engines that can answer without copying what the snapshot holds say so
        self._evaluate_shared = getattr(self.engine, "evaluate_shared", self.engine.evaluate)
        self.loaded_at: float = time.time()

    @property
    def loaded_at_iso(self) -> datetime:
        return datetime.fromtimestamp(self.loaded_at, UTC)

    def evaluate(
        self,
        task_facts: Any,
        *,
        max_facts_depth: int = DEFAULT_MAX_FACTS_DEPTH,
        entrypoint: str | None = None,
        nesting_at_most: int | None = None,
        shared: bool = False,
    ) -> dict[str, Any]:
        """`entrypoint` picks another of a wasm policy's entrypoints than its default;
        `nesting_at_most` is a bound on the facts' nesting the caller already knows (the HTTP
        layer's `nesting_bound` of the raw JSON), which spares measuring it again; `shared`:
        the dicts inside the result may be the snapshot's own (the caller only reads them),
        which spares copying them where the engine can (native)."""
        validate_facts(task_facts, max_depth=max_facts_depth, nesting_at_most=nesting_at_most)
        debug = _debug_enabled()  # a structlog call costs microseconds even when filtered out
        started = time.perf_counter() if debug else 0.0
        try:
            if entrypoint is None:
                result = (self._evaluate_shared if shared else self.engine.evaluate)(task_facts)
            else:
                result = self._evaluate_entrypoint(task_facts, entrypoint)
        except FactsError:
            raise
        except Exception as exc:  # a policy failure is an answer, not a crash
            log.warning(
                "pkg_evaluation_failed",
                version=self.version,
                error=str(exc),
                error_type=type(exc).__name__,
            )
            return self.error_envelope(exc)
        result["snapshot"] = self.version
        if debug:
            log.debug(
                "pkg_evaluation_complete",
                version=self.version,
                engine=self.engine_type,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        return result

    def _evaluate_entrypoint(self, task_facts: Any, entrypoint: str) -> dict[str, Any]:
        select = getattr(self.engine, "evaluate_entrypoint", None)
        if select is None:
            raise FactsError("entrypoint", f"{self.engine_type} policies have no entrypoints")
        result: dict[str, Any] = select(task_facts, entrypoint)
        return result

    def explain(self, task_facts: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """Which conditions held, rule by rule (engines that can tell; else None)."""
        explain = getattr(self.engine, "explain", None)
        if explain is None:
            return None
        trace: list[dict[str, Any]] = explain(task_facts)
        return trace

    def error_envelope(self, exc: BaseException) -> dict[str, Any]:
        """The seed's envelope: no subtasks, one `error` rule saying what went wrong."""
        return {
            "subtasks": [],
            "dag": [],
            "rules": [{"rule_id": "error", "error": str(exc), "error_type": type(exc).__name__}],
            "snapshot": self.version,
        }

    def __repr__(self) -> str:
        return f"PKGEvaluator(version={self.version!r}, engine={self.engine_type!r})"
