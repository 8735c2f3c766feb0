"""What a replica reports about itself: one report; health is a subset of it (DESIGN.md §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from app.services.manager import PKGManager

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


def metadata_report(manager: PKGManager) -> dict[str, Any]:
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
    }


def health_report(metadata: dict[str, Any]) -> dict[str, Any]:
    report = {
        **metadata,
        "active_version": metadata["version"],
        "cached_versions_count": metadata["cache_size"],
    }
    return {key: report[key] for key in HEALTH_KEYS}
