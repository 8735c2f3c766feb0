"""What the services need from the outside world, named for the role (STYLE.md: a pure core,
adapters plugging in through small protocols)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from app.domain.decision import DecisionRecord
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


class DecisionSink(Protocol):
    """Where decision-log batches go (stdout, a database table)."""

    async def write(self, records: Sequence[DecisionRecord]) -> None: ...


class DecisionStore(DecisionSink, Protocol):
    """A sink that can also be read back and pruned (the database)."""

    async def get(self, decision_id: str) -> DecisionRecord | None: ...

    async def query(
        self, *, version: str | None, since: datetime | None, limit: int
    ) -> list[DecisionRecord]: ...

    async def delete_older_than(self, cutoff: datetime) -> int: ...
