"""Each replica reports itself as a `pkg-service` device, so coverage shows convergence."""

from __future__ import annotations

from app.services.evaluator import PKGEvaluator
from app.services.logs import get_logger
from app.services.manager_config import SERVICE_DEVICE_TYPE, ManagerConfig
from app.services.ports import SnapshotSource
from app.services.store_link import StoreLink

log = get_logger("pkg.manager")


class ServiceHeartbeat:
    def __init__(self, source: SnapshotSource, link: StoreLink, config: ManagerConfig) -> None:
        self._source = source
        self._link = link
        self.device_id = config.device_id
        self.region = config.region

    async def beat(self, active: PKGEvaluator | None) -> None:
        """Best effort: a failed beat is logged at debug and the next one tries again."""
        try:
            await self._link.call(
                self._source.update_device_heartbeat(
                    device_id=self.device_id,
                    device_type=SERVICE_DEVICE_TYPE,
                    snapshot_id=active.snapshot.id if active and active.snapshot.id else None,
                    version=active.version if active else None,
                    region=self.region,
                )
            )
        except Exception as exc:
            log.debug("heartbeat_failed", error=str(exc))
