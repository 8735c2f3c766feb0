"""What the services need from the outside world, named for the role (STYLE.md: a pure core,
adapters plugging in through small protocols). `PKGClient` implements both stores; mypy checks
it against them where the composition root hands it over (app/entrypoints/http/lifespan.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NotRequired, Protocol, TypedDict, Unpack

from app.domain.decision import DecisionRecord
from app.domain.document import Fixture, PolicyDocument
from app.domain.snapshot import PKGSnapshotData
from app.domain.trust import SnapshotSignature

Row = dict[str, Any]


class NewDeployment(TypedDict):
    """A canary lane to open (DESIGN.md §6)."""

    snapshot_version: str
    target: str
    percent: int
    region: NotRequired[str]  # default "global"
    is_active: NotRequired[bool]  # default True
    mode: NotRequired[str]  # "canary" (default) or "shadow"


class DeploymentChanges(TypedDict, total=False):
    """What a PATCH may change on a lane; an absent key stays as it is."""

    percent: int | None
    is_active: bool | None
    snapshot_version: str | None
    mode: str | None


class SnapshotSource(Protocol):
    """The database, as the manager sees it."""

    async def get_snapshot_by_version(self, version: str) -> PKGSnapshotData | None: ...

    async def get_active_version(self, env: str) -> str | None: ...

    async def get_deployments(
        self,
        snapshot_id: int | None = None,
        target: str | None = None,
        region: str | None = None,
        active_only: bool = True,
    ) -> list[Row]: ...

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


class GovernanceStore(SnapshotSource, Protocol):
    """The database, as governance and its reads see it: every write is one transaction."""

    # snapshots
    async def create_snapshot(
        self, document: PolicyDocument, signature: SnapshotSignature | None = None
    ) -> PKGSnapshotData: ...

    async def get_active_snapshot(self, env: str | None = None) -> PKGSnapshotData | None: ...

    async def get_snapshot_summary(self, version: str) -> Row | None: ...

    async def list_snapshots(
        self, env: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Row]: ...

    async def delete_snapshot(self, version: str) -> None: ...

    async def add_fixtures(self, snapshot_id: int, fixtures: list[Fixture]) -> None: ...

    async def get_validation_fixtures(self, snapshot_id: int) -> list[Row]: ...

    # validation
    async def create_validation_run(
        self, snapshot_id: int, started_at: datetime | None = None
    ) -> int: ...

    async def finish_validation_run(
        self,
        run_id: int,
        success: bool,
        report: dict[str, Any] | None = None,
        coverage: dict[str, Any] | None = None,
    ) -> None: ...

    async def get_validation_runs(
        self, snapshot_id: int | None = None, limit: int = 100
    ) -> list[Row]: ...

    async def get_validation_run(self, run_id: int) -> Row | None: ...

    # promotions
    async def get_promotions(
        self, snapshot_id: int | None = None, env: str | None = None, limit: int = 100
    ) -> list[Row]: ...

    async def promote(
        self,
        version: str,
        *,
        env: str,
        actor: str,
        reason: str | None = None,
        force: bool = False,
        metrics: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> Row: ...

    async def rollback(
        self,
        *,
        env: str,
        actor: str,
        reason: str | None = None,
        to_version: str | None = None,
        metrics: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> Row: ...

    async def get_audit_chain(self, env: str) -> list[Row]: ...

    # canary lanes and devices
    async def get_deployment_coverage(
        self, target: str | None = None, region: str | None = None
    ) -> list[Row]: ...

    async def create_deployment(self, **lane: Unpack[NewDeployment]) -> Row: ...

    async def update_deployment(
        self, deployment_id: int, **changes: Unpack[DeploymentChanges]
    ) -> Row: ...

    async def get_device_versions(
        self,
        device_type: str | None = None,
        region: str | None = None,
        snapshot_id: int | None = None,
    ) -> list[Row]: ...


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


class RecordedDecisions(Protocol):
    """The decision log read back page by page, newest first, by keyset (replay)."""

    async def scan(
        self,
        *,
        env: str,
        since: datetime | None,
        until: datetime | None,
        version: str | None,
        before: tuple[datetime, int] | None,
        limit: int,
    ) -> list[tuple[tuple[datetime, int], DecisionRecord]]: ...


class RuleCountStore(Protocol):
    """Replicas' fired-rule and decision counts per time bucket (production coverage)."""

    async def flush_rule_counts(
        self, rules: list[dict[str, Any]], decisions: list[dict[str, Any]]
    ) -> None: ...

    async def rule_counts(self, version: str, *, since: datetime) -> list[dict[str, Any]]: ...

    async def decision_counts(self, version: str, *, since: datetime) -> list[dict[str, Any]]: ...
