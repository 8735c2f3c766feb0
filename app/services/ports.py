"""What the services need from the outside world, named for the role (STYLE.md: a pure core,
adapters plugging in through small protocols)."""

from __future__ import annotations

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


class SnapshotVerifier(Protocol):
    """Decides whether a snapshot may be activated (signatures; `app/services/signing.py`)."""

    @property
    def enabled(self) -> bool: ...

    def verify_snapshot(self, snapshot: PKGSnapshotData) -> None: ...


class AuditTrail(Protocol):
    """The promotion history, as `GET /promotions/verify` walks it."""

    async def get_audit_chain(self, env: str) -> list[dict[str, Any]]: ...

    async def get_active_version(self, env: str) -> str | None: ...


class SnapshotCache(Protocol):
    """Last-known-good storage on local disk."""

    def save(self, snapshot: PKGSnapshotData) -> None: ...

    def load(self, env: str) -> PKGSnapshotData | None: ...
