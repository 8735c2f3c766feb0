"""What the console's pages show, gathered from the services (never from an adapter): the
fleet overview, the audit trail with its guards and chain, the rollback a button would make,
and the history of a shadow lane's divergence as this process saw it."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from app.domain.document import ENVIRONMENTS
from app.domain.errors import NotFoundError
from app.services.governance import Governance
from app.services.guard import GuardedPromotions
from app.services.manager import PKGManager
from app.services.manager_config import SERVICE_DEVICE_TYPE

LIVE_AFTER_BEATS: Final = 3  # a replica silent for 3 heartbeat intervals is not live
HISTORY_POINTS: Final = 120


@dataclass(frozen=True)
class EnvState:
    env: str
    version: str | None
    since: Any
    by: str | None
    on_behalf_of: str | None
    promotion_id: int | None


@dataclass(frozen=True)
class Replica:
    device_id: str
    region: str
    version: str | None
    last_seen: datetime | None
    live: bool
    converged: bool
    this: bool


async def env_states(governance: Governance) -> list[EnvState]:
    states = []
    for env in ENVIRONMENTS:
        try:
            view = await governance.active_snapshot_view(env)
        except NotFoundError:
            states.append(EnvState(env, None, None, None, None, None))
            continue
        version = view.snapshot.version
        rows = await governance.promotions(env=env, limit=50)
        last = next((r for r in rows if r.get("success") and r.get("to_version") == version), None)
        states.append(
            EnvState(
                env,
                version,
                view.summary.get("activated_at") or (last or {}).get("created_at"),
                (last or {}).get("actor"),
                (last or {}).get("on_behalf_of"),
                (last or {}).get("id"),
            )
        )
    return states


def _aware(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def replicas(
    governance: Governance, manager: PKGManager, *, heartbeat_s: float
) -> list[Replica]:
    """Every `pkg-service` device: the version it reported, whether it beat recently, whether it
    serves what the database says is active (this replica's env)."""
    active = manager.db_active_version or manager.active_version
    now = datetime.now(UTC)
    found = []
    for row in await governance.devices(device_type=SERVICE_DEVICE_TYPE):
        seen = _aware(row.get("last_seen"))
        live = seen is not None and (now - seen).total_seconds() <= LIVE_AFTER_BEATS * heartbeat_s
        found.append(
            Replica(
                row["device_id"],
                row.get("region") or "global",
                row.get("version"),
                seen,
                live,
                row.get("version") == active,
                row["device_id"] == manager.config.device_id,
            )
        )
    return sorted(found, key=lambda r: (not r.live, r.device_id))


async def promotion_rows(
    governance: Governance, guarded: GuardedPromotions | None, *, env: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The audit trail, newest first, each row with `guard`: its watch (if it had one)."""
    rows = await governance.promotions(env=env, limit=limit)
    shown = []
    for row in rows:
        metrics = row.get("metrics") or {}
        guard = None
        if isinstance(metrics, Mapping) and metrics.get("guard") and guarded is not None:
            guard = await guarded.guard(int(row["id"])) or {"status": "checked before only"}
        shown.append({**row, "metrics": metrics, "guard": guard})
    return shown


async def rollback_target(governance: Governance, env: str) -> tuple[str, int] | None:
    """(version, promotion id) a rollback would go back to now: the newest promotion not yet
    undone, read as the promotion service reads the trail (undo rows pop what they name)."""
    rows = await governance.promotions(env=env, limit=1000)
    undone: set[int] = set()
    for row in rows:
        metrics = row.get("metrics") or {}
        if not row.get("success") or "forced" not in metrics:
            continue
        if metrics.get("undoes") is not None:
            undone.add(int(metrics["undoes"]))
        elif int(row["id"]) not in undone:
            if row.get("from_version") is None:
                return None
            return str(row["from_version"]), int(row["id"])
    return None


@dataclass
class ShadowHistory:
    """The fleet totals of each shadow lane each time this process read them (every page view
    and every poll of the chart), so the chart shows divergence over the time it watched."""

    points: dict[tuple[int, str], deque[tuple[float, int, int]]] = field(default_factory=dict)

    def record(self, deployment_id: int, version: str, totals: Mapping[str, Any]) -> None:
        key = (deployment_id, version)
        series = self.points.setdefault(key, deque(maxlen=HISTORY_POINTS))
        # decided, not evaluated: a decision is counted as evaluated before it is compared
        divergent = int(totals.get("different") or 0) + int(totals.get("errors") or 0)
        decided = int(totals.get("identical") or 0) + divergent
        if series and series[-1][1] == decided:
            return  # nothing new decided: one point per change keeps the line honest
        series.append((time.time(), decided, divergent))

    def shares(self, deployment_id: int, version: str) -> list[tuple[float, float]]:
        """Per point, the divergence of the decisions made since the point before (the first
        point: of every decision up to then)."""
        series = list(self.points.get((deployment_id, version), ()))
        shares = []
        previous = (0.0, 0, 0)
        for point in series:
            decided = point[1] - previous[1]
            divergent = point[2] - previous[2]
            if decided > 0:
                shares.append((point[0], min(1.0, max(0.0, divergent / decided))))
            previous = point
        return shares
