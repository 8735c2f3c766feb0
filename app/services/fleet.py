"""The fleet as the database sees it (`GET /fleet`, `pkgctl fleet`, `promote --wait`).

Every replica heartbeats as a `pkg-service` device (app/services/heartbeat.py) and confirms
its env's active version against the database just before each beat, so a row's `last_seen`
is also the replica's last confirmation. From those rows and the database's active versions:

- `live`: the last confirmation is at most `live_window_s` old (`PKG_FLEET_LIVE_WINDOW_S`);
- `in_sync`: it serves its env's active version; `lag_s`: 0 when in sync, else how long the
  database's active version has been active without this replica serving it;
- `stale`: the last confirmation is older than `stale_after_s`.

A replica's env is the env of the snapshot it serves (a replica that serves nothing has none).
Ages are measured on the clock of the replica that answers against the clocks of the replicas
that wrote the rows: keep the fleet's clocks in sync (NTP), as for any heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain.errors import NotFoundError
from app.services.manager_config import SERVICE_DEVICE_TYPE
from app.services.ports import GovernanceStore, Row

PREFIX = f"{SERVICE_DEVICE_TYPE}:"


@dataclass(frozen=True, kw_only=True)
class FleetWindows:
    live_window_s: float
    stale_after_s: float

    @classmethod
    def of(
        cls,
        *,
        live_window_s: float,
        max_staleness_s: float | None,
        reconcile_interval_s: float,
        heartbeat_interval_s: float,
    ) -> FleetWindows:
        """Stale: older than `PKG_MAX_STALENESS_S` (or, when off, two missed reconciles) plus
        one heartbeat interval, since a row is only as fresh as the replica's last beat."""
        bound = max_staleness_s if max_staleness_s is not None else 2 * reconcile_interval_s
        return cls(live_window_s=live_window_s, stale_after_s=bound + heartbeat_interval_s)


class _Versions:
    """Snapshot summaries and active versions, each read at most once per report."""

    def __init__(self, store: GovernanceStore) -> None:
        self._store = store
        self._summaries: dict[str, Row | None] = {}
        self._active: dict[str, str | None] = {}

    async def summary(self, version: str) -> Row | None:
        if version not in self._summaries:
            self._summaries[version] = await self._store.get_snapshot_summary(version)
        return self._summaries[version]

    async def env_of(self, version: str | None) -> str | None:
        summary = await self.summary(version) if version else None
        return str(summary["env"]) if summary else None

    async def active(self, env: str) -> str | None:
        if env not in self._active:
            self._active[env] = await self._store.get_active_version(env)
        return self._active[env]

    def known_active(self, env: str | None) -> dict[str, str | None]:
        """The active version of every env read so far (of `env` only, if given)."""
        return {name: v for name, v in self._active.items() if env in (None, name)}

    async def activated_at(self, version: str) -> datetime | None:
        summary = await self.summary(version)
        value = summary.get("activated_at") if summary else None
        return value if isinstance(value, datetime) else None


async def fleet_report(
    store: GovernanceStore,
    *,
    windows: FleetWindows,
    env: str | None = None,
    version: str | None = None,
    include_gone: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """`version`: a version being rolled out; without `env`, the fleet of that version's env
    (404 when it is not stored). `include_gone`: replicas outside the live window too."""
    now = now or datetime.now(UTC)
    versions = _Versions(store)
    if version is not None and env is None:
        env = await versions.env_of(version)
        if env is None:
            raise NotFoundError(f"snapshot {version} does not exist")
    if env is not None:
        await versions.active(env)  # shown even when no replica of the env is live
    rows = await store.get_device_versions(device_type=SERVICE_DEVICE_TYPE)
    replicas = []
    for row in rows:
        replica = await _replica(row, versions, windows=windows, now=now)
        if env is not None and replica["env"] != env:
            continue
        if replica["live"] or include_gone:
            replicas.append(replica)
    live = [replica for replica in replicas if replica["live"]]
    return {
        "env": env,
        "live_window_s": windows.live_window_s,
        "stale_after_s": windows.stale_after_s,
        "active_versions": versions.known_active(env),
        "live": len(live),
        "converged": bool(live) and all(replica["in_sync"] for replica in live),
        "replicas": replicas,
    }


async def _replica(
    row: Row, versions: _Versions, *, windows: FleetWindows, now: datetime
) -> dict[str, Any]:
    device_id = str(row["device_id"])
    served = row.get("version")
    env = await versions.env_of(served)
    active = await versions.active(env) if env else None
    confirmed: datetime = row["last_seen"]
    age = max(0.0, (now - confirmed).total_seconds())
    in_sync = served is not None and served == active
    lag: float | None = 0.0
    if not in_sync:
        since = await versions.activated_at(active) if active else None
        lag = max(0.0, (now - since).total_seconds()) if since else None
    return {
        "replica": device_id.removeprefix(PREFIX),
        "device_id": device_id,
        "env": env,
        "region": row.get("region"),
        "version": served,
        "active_version": active,
        "in_sync": in_sync,
        "last_confirmed": confirmed.isoformat(),
        "confirmation_age_s": round(age, 3),
        "lag_s": None if lag is None else round(lag, 3),
        "stale": age > windows.stale_after_s,
        "live": age <= windows.live_window_s,
    }
