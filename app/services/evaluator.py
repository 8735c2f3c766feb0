"""PKGEvaluator: one loaded snapshot behind one `evaluate()`, whatever the engine."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from app.domain.engine import ENGINE_REGISTRY, PolicyEngine, build_engine
from app.domain.errors import FactsError, UnknownEngineError
from app.domain.facts import validate_facts
from app.domain.snapshot import PKGSnapshotData

log = structlog.get_logger("pkg.evaluator")

# The engines PKG ships register themselves when their module is imported; a snapshot of one of
# these types loads its module on first use (custom engines call `register_engine` themselves).
BUILTIN_ENGINE_MODULES: Final = {
    "native": "app.domain.native",
    "wasm": "app.adapters.opa_wasm",
}
DEFAULT_MAX_FACTS_DEPTH: Final = 32


def _ensure_registered(engine: str) -> None:
    module = BUILTIN_ENGINE_MODULES.get(engine)
    if engine not in ENGINE_REGISTRY and module is not None:
        importlib.import_module(module)


_DEBUG_BY_WRAPPER: dict[Any, bool] = {}


def _debug_enabled() -> bool:
    """Would `log.debug` emit, under the current structlog configuration? (memoised)"""
    wrapper = structlog.get_config()["wrapper_class"]
    enabled = _DEBUG_BY_WRAPPER.get(wrapper)
    if enabled is None:
        level = getattr(wrapper, "get_effective_level", None)
        try:
            enabled = level is None or level(None) <= logging.DEBUG
        except Exception:  # a wrapper class whose level needs an instance: assume it logs
            enabled = True
        _DEBUG_BY_WRAPPER[wrapper] = enabled
    return enabled


class PKGEvaluator:
    """Compiles a snapshot once; `evaluate` is sync, thread-safe and never raises for a policy
    failure (it returns the error envelope). Bad facts raise `FactsError` (a ValueError)."""

    def __init__(self, snapshot: PKGSnapshotData) -> None:
        _ensure_registered(snapshot.engine)
        if snapshot.engine not in ENGINE_REGISTRY:
            raise UnknownEngineError(
                f"unknown engine {snapshot.engine!r} for snapshot {snapshot.version} "
                f"(registered: {', '.join(sorted(ENGINE_REGISTRY)) or 'none'})"
            )
        self.snapshot = snapshot
        self.version = snapshot.version
        self.engine_type = snapshot.engine
        self.checksum = snapshot.checksum
        self.engine: PolicyEngine = build_engine(snapshot)
        self.loaded_at = datetime.now(UTC)

    def evaluate(
        self, task_facts: Any, *, max_facts_depth: int = DEFAULT_MAX_FACTS_DEPTH
    ) -> dict[str, Any]:
        validate_facts(task_facts, max_depth=max_facts_depth)
        started = time.perf_counter()
        try:
            result = self.engine.evaluate(task_facts)
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
        if _debug_enabled():  # a structlog call costs microseconds even when filtered out
            log.debug(
                "pkg_evaluation_complete",
                version=self.version,
                engine=self.engine_type,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
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
