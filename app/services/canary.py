"""The canary lanes one replica routes by, refreshed from the database (DESIGN.md §6)."""

from __future__ import annotations

from typing import Any

import structlog

from app.services.ports import Row, SnapshotSource
from app.services.rollout import Route, choose_route
from app.services.store_link import StoreLink

log = structlog.get_logger("pkg.manager")


class CanaryRouter:
    def __init__(self, source: SnapshotSource, link: StoreLink) -> None:
        self._source = source
        self._link = link
        self._lanes: list[Row] = []

    @property
    def lanes(self) -> list[dict[str, Any]]:
        return list(self._lanes)

    async def refresh(self) -> None:
        """Re-read the active lanes; on failure keep routing by the ones we have."""
        try:
            self._lanes = await self._link.call(self._source.get_deployments(active_only=True))
        except Exception as exc:
            log.warning("deployments_refresh_failed", error=str(exc))

    def choose(self, *, target: str | None, region: str | None, subject: str | None) -> Route:
        return choose_route(self._lanes, target=target, region=region, subject=subject)
