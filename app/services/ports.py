"""What the services need from the outside world, named for the role (STYLE.md: a pure core,
adapters plugging in through small protocols)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from app.domain.snapshot import PKGSnapshotData


class SnapshotSource(Protocol):
    """The database, as the manager sees it (`PKGClient` implements it)."""

    async def get_snapshot_by_version(self, version: str) -> PKGSnapshotData | None: ...

    async def get_active_version(self, env: str) -> str | None: ...

    async def get_deployments(
        self,
        snapshot_id: int | None = None,
        target: str | None = None,
        region: str | None = None,
        active_only: bool = True,
    ) -> list[dict[str, Any]]: ...

    async def update_device_heartbeat(
        self,
        device_id: str,
        device_type: str,
        snapshot_id: int | None = None,
        version: str | None = None,
        region: str = "global",
    ) -> None: ...


class SnapshotCache(Protocol):
    """Last-known-good storage on local disk."""

    def save(self, snapshot: PKGSnapshotData) -> None: ...

    def load(self, env: str) -> PKGSnapshotData | None: ...


class ShadowStore(Protocol):
    """Where replicas pool their shadow and guard counters (`SqlShadowRepository`)."""

    async def flush_shadow_stats(self, rows: list[dict[str, Any]]) -> None: ...

    async def shadow_stats(
        self, *, deployment_id: int | None = None, version: str | None = None
    ) -> list[dict[str, Any]]: ...

    async def create_guard(
        self,
        *,
        promotion_id: int,
        env: str,
        version: str,
        from_version: str | None,
        config: dict[str, Any],
        watch_until: datetime,
    ) -> dict[str, Any]: ...

    async def watching_guards(self, env: str) -> list[dict[str, Any]]: ...

    async def get_guard(self, promotion_id: int) -> dict[str, Any] | None: ...

    async def flush_guard_stats(self, rows: list[dict[str, Any]]) -> None: ...

    async def guard_totals(self, promotion_id: int) -> dict[str, int]: ...

    async def decide_guard(
        self,
        promotion_id: int,
        *,
        status: str,
        outcome: dict[str, Any] | None = None,
        decided_by: str | None = None,
        from_status: str = "watching",
    ) -> bool: ...
