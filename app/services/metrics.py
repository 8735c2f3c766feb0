"""What the services report to a metrics backend; the Prometheus one lives in adapters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class ManagerMetrics(Protocol):
    def observe_load(self, seconds: float) -> None: ...
    def observe_evaluation(self, engine: str, seconds: float) -> None: ...
    def hotswap(self, source: str = "unknown") -> None: ...
    def activation_failed(self) -> None: ...
    def signature_rejected(self) -> None: ...
    def redis_reconnect(self) -> None: ...
    def publish_failed(self) -> None: ...
    def set_active_version(self, version: str | None) -> None: ...
    def set_cached_versions(self, count: int) -> None: ...
    def set_degraded(self, degraded: bool) -> None: ...
    def watch_confirmation_age(self, age: Callable[[], float]) -> None: ...


class DecisionMetrics(Protocol):
    """Per decision, and the decision log's queue."""

    def observe_decision(
        self, *, engine: str, lane: str, outcome: str, rules_fired: int, seconds: float
    ) -> None: ...

    def decision_log_dropped(self) -> None: ...
    def decision_log_written(self, count: int) -> None: ...
    def decision_log_write_failed(self, count: int) -> None: ...
    def set_decision_log_queue(self, size: int) -> None: ...


class NullMetrics:
    """Used when nobody scrapes (library use, unit tests)."""

    def observe_load(self, seconds: float) -> None:
        pass

    def observe_evaluation(self, engine: str, seconds: float) -> None:
        pass

    def hotswap(self, source: str = "unknown") -> None:
        pass

    def activation_failed(self) -> None:
        pass

    def signature_rejected(self) -> None:
        pass

    def redis_reconnect(self) -> None:
        pass

    def publish_failed(self) -> None:
        pass

    def set_active_version(self, version: str | None) -> None:
        pass

    def set_cached_versions(self, count: int) -> None:
        pass

    def set_degraded(self, degraded: bool) -> None:
        pass

    def watch_confirmation_age(self, age: Callable[[], float]) -> None:
        pass

    def observe_decision(
        self, *, engine: str, lane: str, outcome: str, rules_fired: int, seconds: float
    ) -> None:
        pass

    def decision_log_dropped(self) -> None:
        pass

    def decision_log_written(self, count: int) -> None:
        pass

    def decision_log_write_failed(self, count: int) -> None:
        pass

    def set_decision_log_queue(self, size: int) -> None:
        pass
