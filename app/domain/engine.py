"""The engine protocol and the registry that dispatches snapshots to engines by `engine` type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from app.domain.errors import UnknownEngineError
from app.domain.snapshot import PKGSnapshotData


@runtime_checkable
class PolicyEngine(Protocol):
    """Evaluates task facts against one compiled snapshot.

    Returns `{"subtasks", "dag", "rules"}` (and `"result"` when the engine has a raw decision);
    `PKGEvaluator` adds `"snapshot"` and turns exceptions into the error envelope.
    """

    def evaluate(self, task_facts: Mapping[str, Any]) -> dict[str, Any]: ...


EngineFactory = Callable[[PKGSnapshotData], PolicyEngine]

ENGINE_REGISTRY: dict[str, EngineFactory] = {}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make snapshots whose `engine` is `name` evaluate with `factory(snapshot)`."""
    ENGINE_REGISTRY[name] = factory


def build_engine(snapshot: PKGSnapshotData) -> PolicyEngine:
    try:
        factory = ENGINE_REGISTRY[snapshot.engine]
    except KeyError:
        known = (
            ", ".join(sorted(ENGINE_REGISTRY))
            or "none; app.entrypoints.composition.install_defaults() adds native, wasm"
        )
        raise UnknownEngineError(
            f"unknown engine {snapshot.engine!r} for snapshot {snapshot.version} "
            f"(registered: {known})"
        ) from None
    return factory(snapshot)
