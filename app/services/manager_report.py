"""What a replica reports about itself: one report; health is a subset of it (DESIGN.md §5)."""

from __future__ import annotations

from typing import Any, Final, Protocol

from app.services.activation import ActivationRecord
from app.services.evaluator import PKGEvaluator
from app.services.evaluator_loader import EvaluatorLoader
from app.services.freshness import Freshness

# the seed's health keys plus ours (db_connected, active_since, db_active_version)
HEALTH_KEYS: Final = (
    "healthy",
    "degraded_mode",
    "last_error",
    "last_activation",
    "active_version",
    "cached_versions_count",
    "redis_connected",
    "db_connected",
    "active_since",
    "db_active_version",
    "signature_verification",
    "signature_rejections",
)


class Reporting(Protocol):
    """What the report reads of a replica's manager (PKGManager is one; this module needs no
    import of it, so the two do not import each other)."""

    @property
    def record(self) -> ActivationRecord: ...
    @property
    def loader(self) -> EvaluatorLoader: ...
    @property
    def freshness(self) -> Freshness: ...
    @property
    def env(self) -> str: ...
    @property
    def cache_limit(self) -> int: ...
    @property
    def healthy(self) -> bool: ...
    @property
    def degraded_mode(self) -> bool: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def db_connected(self) -> bool: ...
    @property
    def db_active_version(self) -> str | None: ...
    @property
    def redis_connected(self) -> bool: ...
    @property
    def feed_transport(self) -> str | None: ...
    def get_active_evaluator(self) -> PKGEvaluator | None: ...
    def cached_versions(self) -> list[str]: ...


def metadata_report(manager: Reporting) -> dict[str, Any]:
    active, record = manager.get_active_evaluator(), manager.record
    cached = manager.cached_versions()
    return {
        "version": active.version if active else None,
        "loaded_at": active.loaded_at if active else None,  # Unix time, as in the seed
        "loaded_at_iso": active.loaded_at_iso.isoformat() if active else None,
        "engine": active.engine_type if active else None,
        "loaded": active is not None,
        "error": record.error,
        "last_activation": record.last_activation,
        "cached_versions": cached,
        "cache_size": len(cached),
        "cache_limit": manager.cache_limit,
        "healthy": manager.healthy,
        "degraded_mode": manager.degraded_mode,
        "last_error": manager.last_error,
        "env": manager.env,
        "checksum": active.checksum if active else None,
        "db_connected": manager.db_connected,
        "active_since": record.last_activation,
        "db_active_version": manager.db_active_version,
        "redis_connected": manager.redis_connected,
        "propagation": manager.feed_transport,
        "served_from_cache": record.from_cache,
        "last_activation_source": record.source,
        "last_load_duration_ms": record.load_duration_ms,
        "last_swap_duration_ms": record.swap_duration_ms,
        "signature_verification": manager.loader.verifier.enabled,
        "signature_rejections": record.signature_rejections,
        **freshness_report(manager.freshness),
    }


def freshness_report(freshness: Freshness) -> dict[str, Any]:
    confirmed_at = freshness.confirmed_at
    return {
        "confirmed_at": confirmed_at.isoformat() if confirmed_at else None,
        "confirmation_age_s": round(freshness.age(), 3),
        "max_staleness_s": freshness.max_staleness_s,
        "stale_policy": freshness.policy,
        "stale": freshness.stale,
    }


def health_report(metadata: dict[str, Any]) -> dict[str, Any]:
    report = {
        **metadata,
        "active_version": metadata["version"],
        "cached_versions_count": metadata["cache_size"],
    }
    return {key: report[key] for key in HEALTH_KEYS}
