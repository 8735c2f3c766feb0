"""The canary lanes one replica routes by, refreshed from the database (DESIGN.md §6)."""

from __future__ import annotations

from typing import Any

from app.services.evaluator import PKGEvaluator
from app.services.evaluator_loader import EvaluatorLoader
from app.services.logs import get_logger
from app.services.ports import Row, SnapshotSource
from app.services.rollout import Route, choose_route
from app.services.store_link import StoreLink

log = get_logger("pkg.manager")


class CanaryRouter:
    def __init__(self, source: SnapshotSource, link: StoreLink, loader: EvaluatorLoader) -> None:
        self._source = source
        self._link = link
        self._loader = loader
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

    async def route(
        self,
        active: PKGEvaluator | None,
        *,
        target: str | None,
        region: str | None,
        subject: str | None,
    ) -> tuple[PKGEvaluator | None, Route]:
        """A canary lane's evaluator, or `active`; a lane whose snapshot fails to load serves
        the active one (logged), never an error."""
        route = self.choose(target=target, region=region, subject=subject)
        if route.version is None or (active is not None and route.version == active.version):
            return active, route
        try:
            return await self._loader.load(route.version), route
        except Exception as exc:  # any load failure: the caller still gets a decision
            log.warning("canary_load_failed", version=route.version, error=str(exc))
            return active, Route.stable()
