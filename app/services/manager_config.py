"""The manager's settings, as one frozen value (built from `Settings` by `manager_config` in
app/entrypoints/composition/builders.py)."""

from __future__ import annotations

from dataclasses import dataclass

SERVICE_DEVICE_TYPE = "pkg-service"


@dataclass(frozen=True, kw_only=True)
class ManagerConfig:
    env: str = "prod"
    reconcile_interval_s: float = 10.0
    heartbeat_interval_s: float = 10.0
    db_timeout_s: float = 5.0
    instance_id: str = "pkg-service"
    region: str = "global"
    max_staleness_s: float | None = None  # PKG_MAX_STALENESS_S (app/services/freshness.py)
    stale_policy: str = "serve-stale"  # or fail-closed

    @property
    def device_id(self) -> str:
        """How this replica reports itself in device telemetry (DESIGN.md §6)."""
        return f"{SERVICE_DEVICE_TYPE}:{self.instance_id}"
