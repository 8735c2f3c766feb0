"""PKGManager: the runtime control plane of one replica.

It loads the active snapshot of its env, hot-swaps evaluators when told (change feed) or when
the database says so (reconcile), keeps an LRU of recent versions, writes the last-known-good
snapshot to disk, and reports itself as a `pkg-service` device.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import structlog

from app.domain.change import ACTIVATE, DEPLOYMENTS_CHANGED, ChangeMessage
from app.domain.errors import (
    NotFoundError,
    PromotionRefusedError,
    SignatureError,
    StoreUnavailableError,
)
from app.domain.snapshot import PKGSnapshotData
from app.services.evaluator import PKGEvaluator
from app.services.evaluator_cache import MAX_EVALUATOR_CACHE_SIZE, EvaluatorCache
from app.services.feed import ChangeFeed, adapt_feed
from app.services.metrics import ManagerMetrics, NullMetrics
from app.services.ports import SnapshotCache, SnapshotSource, SnapshotVerifier
from app.services.rollout import Route, choose_route
from app.services.signing import NO_VERIFICATION

log = structlog.get_logger("pkg.manager")

SERVICE_DEVICE_TYPE = "pkg-service"
STOP_GRACE_S = 1.0
STOP_TIMEOUT_S = 5.0
T = TypeVar("T")


class PKGManager:
    def __init__(
        self,
        pkg_client: SnapshotSource,
        redis_client: Any = None,
        *,
        env: str = "prod",
        cache: SnapshotCache | None = None,
        metrics: ManagerMetrics | None = None,
        reconcile_interval_s: float = 10.0,
        heartbeat_interval_s: float = 10.0,
        db_timeout_s: float = 5.0,
        instance_id: str = "pkg-service",
        region: str = "global",
        verifier: SnapshotVerifier | None = None,
    ) -> None:
        self.client = pkg_client
        self.verifier: SnapshotVerifier = verifier or NO_VERIFICATION
        self.signature_rejections = 0
        self.feed: ChangeFeed | None = adapt_feed(redis_client)
        self.env = env
        self.metrics: ManagerMetrics = metrics or NullMetrics()
        self.reconcile_interval_s = reconcile_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.db_timeout_s = db_timeout_s
        self.device_id = f"{SERVICE_DEVICE_TYPE}:{instance_id}"
        self.region = region
        self._disk = cache
        self._evaluators = EvaluatorCache(MAX_EVALUATOR_CACHE_SIZE)
        self._activation_lock = asyncio.Lock()
        self._load_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._deployments: list[dict[str, Any]] = []
        self._last_seen_db_version: str | None = None
        self._activation_error: str | None = None
        self._db_error: str | None = None
        self._from_cache = False
        self.db_connected = False
        self.db_active_version: str | None = None
        self.last_activation: float | None = None
        self.last_activation_source: str | None = None
        self.last_load_duration_ms: float | None = None
        self.last_swap_duration_ms: float | None = None
        self.active_since: float | None = None
        self.started = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.reconcile(source="startup")
        if self.get_active_evaluator() is None and not self.db_connected:
            await self._start_from_disk()
        await self.refresh_deployments()
        self._tasks = [
            asyncio.create_task(self._reconcile_loop(), name="pkg-reconcile"),
            asyncio.create_task(self._heartbeat_loop(), name="pkg-heartbeat"),
        ]
        if self.feed is not None:
            listener = self.feed.listen(self._on_message, self._on_subscribed)
            self._tasks.append(asyncio.create_task(listener, name="pkg-listener"))
        self.started = True

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        pending: set[asyncio.Task[None]] = set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=STOP_GRACE_S)
        if self.feed is not None:
            await self.feed.close()  # also ends a listener whose cancellation got lost
        if pending:
            _done, pending = await asyncio.wait(pending, timeout=STOP_TIMEOUT_S)
            for task in pending:
                log.error("manager_task_did_not_stop", task=task.get_name())
        self._tasks = []
        self.started = False

    async def __aenter__(self) -> PKGManager:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ public API (seed)
    def get_active_evaluator(self) -> PKGEvaluator | None:
        return self._evaluators.active

    def get_evaluator_by_version(self, version: str) -> PKGEvaluator | None:
        """A cached evaluator (active or recent), or None; `load_evaluator` fetches on demand."""
        active = self._evaluators.active
        if active is not None and active.version == version:
            return active
        return self._evaluators.get(version)

    @property
    def active_version(self) -> str | None:
        active = self._evaluators.active
        return active.version if active is not None else None

    @property
    def deployments(self) -> list[dict[str, Any]]:
        """The active canary lanes this replica routes by (refreshed on change and reconcile)."""
        return list(self._deployments)

    @property
    def healthy(self) -> bool:
        return self._evaluators.active is not None and self._activation_error is None

    @property
    def degraded_mode(self) -> bool:
        return not self.healthy or not self.db_connected or self._from_cache

    @property
    def last_error(self) -> str | None:
        return self._activation_error or self._db_error

    @property
    def redis_connected(self) -> bool:
        """True only while subscribed to Redis (the in-process bus is not Redis)."""
        return self.feed_transport == "redis" and self.feed is not None and self.feed.connected

    @property
    def feed_transport(self) -> str | None:
        return getattr(self.feed, "transport", None) if self.feed is not None else None

    def get_health_status(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "degraded_mode": self.degraded_mode,
            "last_error": self.last_error,
            "last_activation": self.last_activation,
            "active_version": self.active_version,
            "cached_versions_count": len(self._evaluators.versions()),
            "redis_connected": self.redis_connected,
            "db_connected": self.db_connected,
            "active_since": self.active_since,
            "db_active_version": self.db_active_version,
            "signature_verification": self.verifier.enabled,
            "signature_rejections": self.signature_rejections,
        }

    def get_metadata(self) -> dict[str, Any]:
        active = self._evaluators.active
        cached = self._evaluators.versions()
        return {
            "version": active.version if active else None,
            "loaded_at": active.loaded_at if active else None,
            "engine": active.engine_type if active else None,
            "loaded": active is not None,
            "error": self._activation_error,
            "last_activation": self.last_activation,
            "cached_versions": cached,
            "cache_size": len(cached),
            "cache_limit": self._evaluators.limit,
            "healthy": self.healthy,
            "degraded_mode": self.degraded_mode,
            "last_error": self.last_error,
            "env": self.env,
            "checksum": active.checksum if active else None,
            "db_connected": self.db_connected,
            "active_since": self.active_since,
            "db_active_version": self.db_active_version,
            "redis_connected": self.redis_connected,
            "propagation": self.feed_transport,
            "served_from_cache": self._from_cache,
            "last_activation_source": self.last_activation_source,
            "last_load_duration_ms": self.last_load_duration_ms,
            "last_swap_duration_ms": self.last_swap_duration_ms,
        }

    # ------------------------------------------------------------------ activation
    async def activate(self, version: str, *, source: str) -> bool:
        """Load, verify, build and swap in `version`. On failure keep the previous evaluator."""
        async with self._activation_lock:
            if version == self.active_version and self.healthy and not self._from_cache:
                return True  # already serving it (e.g. our own publish coming back)
            started = time.perf_counter()
            log.info("snapshot_load_start", version=version, source=source, timestamp=time.time())
            try:
                snapshot = await self._fetch(version)
                if snapshot.env != self.env:
                    raise PromotionRefusedError(
                        f"snapshot {version} belongs to env {snapshot.env}, not {self.env}"
                    )
                evaluator = await asyncio.to_thread(_build_evaluator, snapshot, self.verifier)
            except Exception as exc:
                self._activation_failed(version, source, exc, started)
                return False
            self._swap(evaluator, source=source, started=started)
            self._from_cache = False
        await self._after_activation(evaluator.snapshot)
        return True

    async def load_evaluator(self, version: str) -> PKGEvaluator:
        """An evaluator for any stored version (pinned requests, canaries): cached, or built."""
        found = self.get_evaluator_by_version(version)
        if found is not None:
            return found
        async with self._load_lock:
            found = self._evaluators.get(version)
            if found is None:
                snapshot = await self._fetch(version)
                found = await asyncio.to_thread(_build_evaluator, snapshot, self.verifier)
                self._evaluators.put(found)
                self.metrics.set_cached_versions(len(self._evaluators.versions()))
        return found

    async def reconcile(self, *, source: str = "reconcile") -> None:
        """Converge with the database: swap when its active version changed since last look."""
        try:
            version = await self._db(self.client.get_active_version(self.env))
        except Exception as exc:
            self._db_unreachable(exc)
            return
        self._db_reachable()
        self.db_active_version = version
        if version is None or version == self._last_seen_db_version:
            return
        # a last-known-good copy from disk is re-read from the database (activate does that),
        # so the replica stops being degraded once the database is back
        serving = version == self.active_version and not self._from_cache
        if serving or await self.activate(version, source=source):
            self._last_seen_db_version = version

    async def refresh_deployments(self) -> None:
        try:
            self._deployments = await self._db(self.client.get_deployments(active_only=True))
        except Exception as exc:
            log.warning("deployments_refresh_failed", error=str(exc))

    async def route(
        self, *, target: str | None, region: str | None, subject: str | None
    ) -> tuple[PKGEvaluator | None, Route]:
        """The evaluator that serves this caller: a canary lane's, or the active one."""
        route = choose_route(self._deployments, target=target, region=region, subject=subject)
        if route.version is None or route.version == self.active_version:
            return self._evaluators.active, route
        try:
            return await self.load_evaluator(route.version), route
        except Exception as exc:
            log.warning("canary_load_failed", version=route.version, error=str(exc))
            return self._evaluators.active, Route.stable()

    async def publish(self, message: ChangeMessage) -> bool:
        """Tell every replica. A failure is logged and counted; replicas reconcile anyway."""
        if self.feed is None:
            return False
        try:
            await self.feed.publish(message)
        except Exception as exc:
            self.metrics.publish_failed()
            log.warning("pkg_publish_failed", message=message.encode(), error=str(exc))
            return False
        return True

    # ------------------------------------------------------------------ internals
    async def _fetch(self, version: str) -> PKGSnapshotData:
        snapshot = await self._db(self.client.get_snapshot_by_version(version))
        if snapshot is None:
            raise NotFoundError(f"snapshot {version} does not exist")
        return snapshot

    async def _db(self, call: Awaitable[T]) -> T:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
        # arrives as the call completes, and a listener that ignores stop() hangs shutdown
        try:
            async with asyncio.timeout(self.db_timeout_s):
                return await call
        except TimeoutError as exc:
            raise StoreUnavailableError(f"database did not answer in {self.db_timeout_s}s") from exc

    def _swap(self, evaluator: PKGEvaluator, *, source: str, started: float) -> None:
        swap_started = time.perf_counter()
        previous = self._evaluators.swap(evaluator)
        now = time.time()
        self.last_activation = now
        self.last_activation_source = source
        self.active_since = now
        self._activation_error = None
        self.metrics.hotswap()
        self.metrics.observe_load(time.perf_counter() - started)
        self.metrics.set_active_version(evaluator.version)
        self.metrics.set_cached_versions(len(self._evaluators.versions()))
        self.metrics.set_degraded(self.degraded_mode)
        self.last_swap_duration_ms = round((time.perf_counter() - swap_started) * 1e3, 4)
        self.last_load_duration_ms = round((time.perf_counter() - started) * 1e3, 3)
        log.info(
            "snapshot_activated",
            version=evaluator.version,
            previous_version=previous.version if previous else None,
            source=source,
            swap_duration_ms=self.last_swap_duration_ms,
            load_duration_ms=self.last_load_duration_ms,
            timestamp=now,
        )

    def _activation_failed(self, version: str, source: str, exc: Exception, started: float) -> None:
        self._activation_error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, StoreUnavailableError):
            self._db_unreachable(exc)
        if isinstance(exc, SignatureError):
            self.signature_rejections += 1
            self.metrics.signature_rejected()
        self.metrics.activation_failed()
        self.metrics.set_degraded(True)
        log.error(
            "snapshot_activation_failed",
            version=version,
            source=source,
            error=str(exc),
            error_type=type(exc).__name__,
            duration_ms=round((time.perf_counter() - started) * 1e3, 3),
            timestamp=time.time(),
        )

    async def _after_activation(self, snapshot: PKGSnapshotData) -> None:
        if self._disk is not None:
            try:
                await asyncio.to_thread(self._disk.save, snapshot)
            except OSError as exc:
                log.warning("snapshot_cache_write_failed", error=str(exc))
        if self.started:
            asyncio.create_task(self._heartbeat())  # noqa: RUF006  # best effort, logs itself

    async def _start_from_disk(self) -> None:
        if self._disk is None:
            return
        started = time.perf_counter()
        try:
            snapshot = await asyncio.to_thread(self._disk.load, self.env)
            if snapshot is None:
                return
            evaluator = await asyncio.to_thread(_build_evaluator, snapshot, self.verifier)
        except Exception as exc:
            self._activation_failed("last-known-good", "cache", exc, started)
            return
        self._swap(evaluator, source="cache", started=started)
        self._from_cache = True
        self.metrics.set_degraded(True)

    def _db_unreachable(self, exc: Exception) -> None:
        if self.db_connected or self._db_error is None:
            log.warning("database_unreachable", error=str(exc), error_type=type(exc).__name__)
        self.db_connected = False
        self._db_error = f"database unreachable: {type(exc).__name__}: {exc}"
        self.metrics.set_degraded(True)

    def _db_reachable(self) -> None:
        if not self.db_connected and self._db_error is not None:
            log.info("database_reachable")
        self.db_connected = True
        self._db_error = None
        self.metrics.set_degraded(self.degraded_mode)

    async def _on_subscribed(self) -> None:
        await self.reconcile(source="resubscribe")
        await self.refresh_deployments()

    async def _on_message(self, message: ChangeMessage) -> None:
        if message.env is not None and message.env != self.env:
            return
        if message.action == ACTIVATE and message.version:
            await self.activate(message.version, source="redis")
        elif message.action == DEPLOYMENTS_CHANGED:
            await self.refresh_deployments()

    async def _reconcile_loop(self) -> None:
        await self._every(self.reconcile_interval_s, self._reconcile_tick)

    async def _reconcile_tick(self) -> None:
        await self.reconcile()
        await self.refresh_deployments()

    async def _heartbeat_loop(self) -> None:
        await self._every(self.heartbeat_interval_s, self._heartbeat)

    async def _heartbeat(self) -> None:
        active = self._evaluators.active
        try:
            await self._db(
                self.client.update_device_heartbeat(
                    device_id=self.device_id,
                    device_type=SERVICE_DEVICE_TYPE,
                    snapshot_id=active.snapshot.id if active and active.snapshot.id else None,
                    version=active.version if active else None,
                    region=self.region,
                )
            )
        except Exception as exc:
            log.debug("heartbeat_failed", error=str(exc))

    @staticmethod
    async def _every(interval_s: float, tick: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await tick()
            except Exception as exc:  # a loop of the manager: log and go on
                log.error("manager_loop_error", error=str(exc), error_type=type(exc).__name__)


def _build_evaluator(snapshot: PKGSnapshotData, verifier: SnapshotVerifier) -> PKGEvaluator:
    """Verify, then compile, off the event loop (a 1000-rule snapshot takes milliseconds).

    The one place every activation passes through (promotion, Redis message, reconcile, the
    last-known-good cache, pinned and canary versions): content first, then its signature."""
    snapshot.verify_checksum()
    verifier.verify_snapshot(snapshot)
    evaluator = PKGEvaluator(snapshot)
    log.info("snapshot_validated", version=snapshot.version, checksum=snapshot.checksum)
    return evaluator
