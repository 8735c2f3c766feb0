"""PKGManager: the runtime control plane of one replica.

It loads the active snapshot of its env, hot-swaps evaluators when told (change feed) or when
the database says so (reconcile), keeps an LRU of recent versions and the last-known-good
snapshot on disk. Activation (`Activator`), the database's active version (`DatabaseVersion`),
canary lanes (`CanaryRouter`), the replica's own device heartbeat (`ServiceHeartbeat`) and
database reachability (`StoreLink`) are small collaborators.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from app.domain.change import ACTIVATE, DEPLOYMENTS_CHANGED, ChangeMessage
from app.services.activation import ActivationRecord, Activator
from app.services.background import BackgroundTasks
from app.services.canary import CanaryRouter
from app.services.db_version import DatabaseVersion
from app.services.evaluator import PKGEvaluator
from app.services.evaluator_cache import MAX_EVALUATOR_CACHE_SIZE, EvaluatorCache
from app.services.evaluator_loader import EvaluatorLoader
from app.services.feed import FeedLink, adapt_feed
from app.services.freshness import Freshness
from app.services.heartbeat import ServiceHeartbeat
from app.services.last_known_good import LastKnownGood
from app.services.logs import get_logger
from app.services.manager_config import SERVICE_DEVICE_TYPE, ManagerConfig
from app.services.manager_report import health_report, metadata_report
from app.services.metrics import ManagerMetrics, NullMetrics
from app.services.ports import SnapshotCache, SnapshotSource, SnapshotVerifier
from app.services.rollout import Route
from app.services.signing import NO_VERIFICATION
from app.services.store_link import StoreLink

log = get_logger("pkg.manager")

__all__ = ["SERVICE_DEVICE_TYPE", "ManagerConfig", "PKGManager"]


class PKGManager:
    def __init__(
        self,
        pkg_client: SnapshotSource,
        redis_client: object = None,
        *,
        cache: SnapshotCache | None = None,
        metrics: ManagerMetrics | None = None,
        config: ManagerConfig | None = None,
        verifier: SnapshotVerifier | None = None,
        **settings: Any,
    ) -> None:
        """`settings` are `ManagerConfig` fields (`env=`, `reconcile_interval_s=`, ...), as
        keywords for the seed's call style; `config` gives them as one value."""
        self.config = replace(config or ManagerConfig(), **settings)
        self.client = pkg_client
        self.metrics: ManagerMetrics = metrics or NullMetrics()
        self.feed = FeedLink(
            adapt_feed(redis_client), on_publish_failed=self.metrics.publish_failed
        )
        self.store = StoreLink(timeout_s=self.config.db_timeout_s, on_change=self._set_degraded)
        self._evaluators = EvaluatorCache(MAX_EVALUATOR_CACHE_SIZE)
        self.loader = EvaluatorLoader(
            pkg_client, self.store, self._evaluators, self.metrics, verifier or NO_VERIFICATION
        )
        self.canary = CanaryRouter(pkg_client, self.store, self.loader)
        self.heartbeat = ServiceHeartbeat(pkg_client, self.store, self.config)
        self._disk = LastKnownGood(cache)
        self.record = ActivationRecord(self._evaluators, self.metrics)
        self._tasks = BackgroundTasks()
        self.freshness = Freshness(
            max_staleness_s=self.config.max_staleness_s, policy=self.config.stale_policy
        )
        self.metrics.watch_confirmation_age(self.freshness.age)
        self.db_version = DatabaseVersion(
            pkg_client, self.store, env=self.config.env, on_confirmed=self.freshness.confirm
        )
        self.activator = Activator(
            env=self.config.env,
            evaluators=self._evaluators,
            loader=self.loader,
            record=self.record,
            store=self.store,
            disk=self._disk,
            db_version=self.db_version,
            metrics=self.metrics,
            on_swap=self._set_degraded,
            after_swap=self._after_activation,
        )
        self.started = False
        self._beats: set[asyncio.Task[None]] = set()  # heartbeats right after an activation

    @property
    def env(self) -> str:
        return self.config.env

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.reconcile(source="startup")
        if self.get_active_evaluator() is None and not self.db_connected:
            await self.activator.restore()
        await self.refresh_deployments()
        self._tasks.every("pkg-reconcile", self.config.reconcile_interval_s, self._converge)
        self._tasks.every("pkg-heartbeat", self.config.heartbeat_interval_s, self._heartbeat)
        if self.feed.feed is not None:
            listener = self.feed.feed.listen(self._on_message, self._on_subscribed)
            self._tasks.spawn("pkg-listener", listener)
        self.started = True

    async def stop(self) -> None:
        for beat in self._beats:
            beat.cancel()
        if self._beats:  # none is left holding a database connection as the engine closes
            await asyncio.wait(self._beats, timeout=self.config.db_timeout_s)
        await self._tasks.stop(after_grace=self.feed.close)
        self.started = False

    async def __aenter__(self) -> PKGManager:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ public API (seed)
    def get_active_evaluator(self) -> PKGEvaluator | None:
        return self._evaluators.active

    def get_evaluator_by_version(self, version: str) -> PKGEvaluator | None:
        """A cached evaluator (active or recent), or None; `load_evaluator` fetches on demand."""
        return self.loader.cached(version)

    @property
    def active_version(self) -> str | None:
        active = self._evaluators.active
        return active.version if active is not None else None

    @property
    def last_activation(self) -> float | None:
        return self.record.last_activation

    @property
    def cache_limit(self) -> int:
        return self._evaluators.limit

    def cached_versions(self) -> list[str]:
        """Versions with a built evaluator, most recently used first."""
        return self._evaluators.versions()

    @property
    def deployments(self) -> list[dict[str, Any]]:
        """The active canary lanes this replica routes by (refreshed on change and reconcile)."""
        return self.canary.lanes

    @property
    def db_active_version(self) -> str | None:
        return self.db_version.current

    @property
    def db_connected(self) -> bool:
        return self.store.connected

    @property
    def healthy(self) -> bool:
        return self._evaluators.active is not None and self.record.error is None

    @property
    def degraded_mode(self) -> bool:
        return not self.healthy or not self.db_connected or self.record.from_cache

    @property
    def stale(self) -> bool:
        """Not confirmed against the database for longer than `max_staleness_s` (if set)."""
        return self.freshness.stale

    @property
    def last_error(self) -> str | None:
        return self.record.error or self.store.error

    @property
    def redis_connected(self) -> bool:
        return self.feed.redis_connected

    @property
    def feed_transport(self) -> str | None:
        return self.feed.transport

    def get_metadata(self) -> dict[str, Any]:
        """Everything this replica knows about itself (the seed's keys and ours)."""
        return metadata_report(self)

    def get_health_status(self) -> dict[str, Any]:
        """The seed's health keys, read from the one report `get_metadata` builds."""
        return health_report(self.get_metadata())

    # ------------------------------------------------------------------ activation
    async def activate(self, version: str, *, source: str) -> bool:
        """Load, verify, build and swap in `version`. On failure keep the previous evaluator.

        Whatever the source, the database's active version is noted as seen (`DatabaseVersion`)."""
        return await self.activator.activate(version, source=source)

    async def load_evaluator(self, version: str) -> PKGEvaluator:
        """An evaluator for any stored version (pinned requests, canaries): cached, or built."""
        return await self.loader.load(version)

    async def reconcile(self, *, source: str = "reconcile") -> None:
        """Converge with the database: swap when its active version changed since last look."""
        version = await self.db_version.changed()
        if version is None:
            return
        # a last-known-good copy from disk is re-read from the database (activate does that),
        # so the replica stops being degraded once the database is back
        serving = version == self.active_version and not self.record.from_cache
        if serving or await self.activate(version, source=source):
            self.db_version.last_seen = version

    async def refresh_deployments(self) -> None:
        await self.canary.refresh()

    async def route(
        self, *, target: str | None, region: str | None, subject: str | None
    ) -> tuple[PKGEvaluator | None, Route]:
        """The evaluator that serves this caller: a canary lane's, or the active one."""
        return await self.canary.route(
            self._evaluators.active, target=target, region=region, subject=subject
        )

    async def publish(self, message: ChangeMessage) -> bool:
        """Tell every replica. A failure is logged and counted; replicas reconcile anyway."""
        return await self.feed.publish(message)

    # ------------------------------------------------------------------ internals
    def _set_degraded(self) -> None:
        self.metrics.set_degraded(self.degraded_mode)

    def _after_activation(self) -> None:
        if self.started:  # best effort, logs itself
            beat = asyncio.create_task(self._heartbeat())
            self._beats.add(beat)
            beat.add_done_callback(self._beats.discard)

    async def _on_subscribed(self) -> None:
        await self._converge(source="resubscribe")

    async def _on_message(self, message: ChangeMessage) -> None:
        if message.env is not None and message.env != self.env:
            return
        if message.action == ACTIVATE and message.version:
            await self.activate(message.version, source="redis")
        elif message.action == DEPLOYMENTS_CHANGED:
            await self.refresh_deployments()

    async def _converge(self, *, source: str = "reconcile") -> None:
        await self.reconcile(source=source)
        await self.refresh_deployments()

    async def _heartbeat(self) -> None:
        # each beat confirms first, so a heartbeat's time is also a confirmation's (GET /fleet)
        if await self.db_version.confirm():
            await self.heartbeat.beat(self._evaluators.active)
