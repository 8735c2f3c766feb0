"""The static diff of two stored versions (app/domain/diff.py): read both, evaluate nothing."""

from __future__ import annotations

from typing import Any, Protocol

from app.domain.diff import snapshot_diff
from app.domain.document import Fixture
from app.domain.snapshot import PKGSnapshotData


class DiffSource(Protocol):
    """Where a diff reads snapshots and their fixtures (the governance service)."""

    async def snapshot(self, version: str) -> PKGSnapshotData: ...

    async def fixtures(self, snapshot: PKGSnapshotData) -> list[Fixture]: ...


async def diff_versions(source: DiffSource, a: str, b: str) -> dict[str, Any]:
    """How stored version `b` differs from `a` (404 when either is unknown)."""
    before, after = await source.snapshot(a), await source.snapshot(b)
    return snapshot_diff(
        before,
        after,
        fixtures_a=await source.fixtures(before),
        fixtures_b=await source.fixtures(after),
    )
