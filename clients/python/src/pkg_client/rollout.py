"""The fleet's replicas (`fleet`: `GET /fleet`) and waiting for a rollout, like `kubectl rollout
status`: `wait_for_version` polls `GET /fleet` until every live replica of the version's env
serves it (`pkgctl promote V --wait`).

A replica is tracked once it is seen live during the wait; it is done once it is seen live and
serving the version. A tracked replica that falls silent is not done: a replica cut off from
the database may still be answering its callers with the old version, so the wait names it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pkg_client.call import Call, query

DEFAULT_WAIT_S = 60.0
POLL_EVERY_S = 0.5


def fleet(
    *,
    env: str | None = None,
    version: str | None = None,
    all: bool = False,
) -> Call[dict[str, Any]]:
    """Every live replica (`all`: also those outside the live window) with the version it
    serves, when it last confirmed it against the database, its lag and whether it is stale;
    `version`: a version being rolled out (its env, unless `env` says)."""
    return Call("GET", "/fleet", params=query(env=env, version=version, all=all))


@dataclass
class Rollout:
    """Where a rollout stands: `done` and `pending` map device ids to their last `/fleet` row."""

    version: str
    env: str | None = None
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return bool(self.done) and not self.pending

    def observe(self, fleet: dict[str, Any]) -> None:
        """Fold one `/fleet?all=true` answer in."""
        self.env = fleet.get("env")
        rows = {row["device_id"]: row for row in fleet["replicas"]}
        for device_id, row in rows.items():
            if device_id in self.done:
                continue
            if row["live"] and row["version"] == self.version:
                self.done[device_id] = row
                self.pending.pop(device_id, None)
            elif row["live"] or device_id in self.pending:
                self.pending[device_id] = row

    def why(self, row: dict[str, Any]) -> str:
        """Why a pending replica has not followed, in a few words."""
        age = row.get("confirmation_age_s")
        if not row["live"]:
            return f"silent for {age:.0f}s, last served {row['version']}"
        text = f"serves {row['version']}"
        return f"{text} (stale: last confirmed {age:.1f}s ago)" if row.get("stale") else text

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "env": self.env,
            "complete": self.complete,
            "done": sorted(row["replica"] for row in self.done.values()),
            "pending": {row["replica"]: self.why(row) for row in self.pending.values()},
        }


class FleetReader(Protocol):
    def fleet(
        self,
        *,
        env: str | None = ...,
        version: str | None = ...,
        all: bool = ...,
    ) -> dict[str, Any]: ...


def wait_for_version(
    client: FleetReader,
    version: str,
    *,
    env: str | None = None,
    timeout_s: float = DEFAULT_WAIT_S,
    every_s: float = POLL_EVERY_S,
    on_progress: Callable[[Rollout], None] | None = None,
) -> Rollout:
    """Poll until every live replica serves `version`, or `timeout_s` passes; `complete` says
    which (`pending` names the replicas that did not follow)."""
    rollout = Rollout(version)
    deadline = time.monotonic() + timeout_s
    while True:
        rollout.observe(client.fleet(env=env, version=version, all=True))
        if on_progress is not None:
            on_progress(rollout)
        if rollout.complete or time.monotonic() >= deadline:
            return rollout
        time.sleep(min(every_s, max(0.0, deadline - time.monotonic())))


async def wait_for_version_async(
    fleet: Callable[..., Awaitable[dict[str, Any]]],
    version: str,
    *,
    env: str | None = None,
    timeout_s: float = DEFAULT_WAIT_S,
    every_s: float = POLL_EVERY_S,
) -> Rollout:
    """`wait_for_version` with an async client's `fleet` method."""
    rollout = Rollout(version)
    deadline = time.monotonic() + timeout_s
    while True:
        rollout.observe(await fleet(env=env, version=version, all=True))
        if rollout.complete or time.monotonic() >= deadline:
            return rollout
        await asyncio.sleep(min(every_s, max(0.0, deadline - time.monotonic())))
