"""The composition root: builds every adapter in order, hands the manager to the app, and
closes everything in reverse. Nothing here runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from app.adapters import opa_wasm
from app.adapters.bus.memory import InProcessBus
from app.adapters.bus.redis_feed import RedisChangeFeed
from app.adapters.db.client import PKGClient
from app.adapters.db.decisions import SqlDecisionStore
from app.adapters.db.migrations import upgrade_to_head
from app.adapters.db.shadow import SqlShadowRepository
from app.adapters.observability.decision_stdout import StdoutDecisionSink
from app.adapters.observability.logging import configure_logging
from app.adapters.observability.metrics import PrometheusMetrics
from app.adapters.observability.tracing import configure_tracing
from app.adapters.opa_wasm import WasmLimits, configure
from app.adapters.snapshot_cache import FileSnapshotCache
from app.domain.document import parse_policy_document
from app.domain.redaction import Redaction
from app.services.decision_log import DecisionLog
from app.services.governance import Governance, bootstrap
from app.services.guard import GuardedPromotions, GuardWatch
from app.services.logs import get_logger
from app.services.manager import ManagerConfig, PKGManager
from app.services.metrics import ManagerMetrics
from app.services.policy_text import load_policy_text
from app.services.ports import SnapshotSource
from app.services.shadow import ShadowConfig, ShadowRunner
from app.services.signing import Signer, Verifier
from app.services.trust import Trust
from app.serving import startup_turn, sync_interval
from app.settings import Settings
from app.wiring import install_defaults

log = get_logger("pkg.lifespan")
_global_manager: PKGManager | None = None


def get_global_pkg_manager() -> PKGManager | None:
    return _global_manager


async def initialize_global_pkg_manager(
    pkg_client: Any = None, redis_client: Any = None, *, settings: Settings | None = None
) -> PKGManager:
    """The seed's entry point for library use: a started manager, reachable from anywhere."""
    global _global_manager
    install_defaults()
    settings = settings or Settings()
    if _global_manager is not None:
        return _global_manager
    client = pkg_client or PKGClient(settings.database_url, env=settings.env)
    feed = redis_client
    if feed is None and settings.redis_url:
        feed = RedisChangeFeed(settings.redis_url, channel=settings.redis_channel)
    manager = build_manager(settings, client, feed, PrometheusMetrics())
    await manager.start()
    _global_manager = manager
    return manager


async def reset_global_pkg_manager() -> None:
    """Stop and forget the global manager (tests, and apps that re-initialize)."""
    global _global_manager
    manager, _global_manager = _global_manager, None
    if manager is not None:
        await manager.stop()


def manager_config(settings: Settings) -> ManagerConfig:
    """The manager's fields of the settings (same names: env, intervals, timeout, identity)."""
    names = {field.name for field in dataclasses.fields(ManagerConfig)}
    config = ManagerConfig(**settings.model_dump(include=names))
    # several embedded workers: no feed reaches the others, a short re-read does (serving.py)
    return dataclasses.replace(config, reconcile_interval_s=sync_interval(settings))


def build_manager(
    settings: Settings,
    client: SnapshotSource,
    feed: object,
    metrics: ManagerMetrics,
    verifier: Verifier | None = None,
) -> PKGManager:
    return PKGManager(
        client,
        feed,
        cache=FileSnapshotCache(settings.snapshot_cache_dir),
        metrics=metrics,
        config=manager_config(settings),
        verifier=verifier or Verifier.from_specs(settings.verify_keys),
    )


def build_shadow(
    settings: Settings,
    store: SqlShadowRepository,
    client: PKGClient,
    governance: Governance,
    metrics: Any,
) -> tuple[ShadowRunner, GuardWatch, GuardedPromotions]:
    """Shadow lanes and promotion guards; counters are pooled under a per-process key."""
    replica = f"{settings.instance_id}#{uuid.uuid4().hex[:8]}"
    watch = GuardWatch(
        store=store,
        promoter=governance,
        active_version=client.get_active_version,
        env=settings.env,
        replica=replica,
        interval_s=settings.guard_interval_s,
        db_timeout_s=settings.db_timeout_s,
    )
    config = ShadowConfig(
        replica=replica,
        queue_size=settings.shadow_queue_size,
        examples=settings.shadow_examples,
        flush_interval_s=settings.shadow_flush_interval_s,
        redaction=Redaction.masking_facts(settings.shadow_mask),
        max_facts_depth=settings.max_facts_depth,
        db_timeout_s=settings.db_timeout_s,
    )
    shadow = ShadowRunner(
        resolve=governance.load_evaluator,
        store=store,
        metrics=metrics,
        config=config,
        counter=watch,
    )
    return shadow, watch, GuardedPromotions(governance, store, shadow.totals_for)


def build_decision_log(settings: Settings, client: PKGClient, metrics: Any) -> DecisionLog:
    sink: StdoutDecisionSink | SqlDecisionStore | None = None
    if settings.decision_log == "stdout":
        sink = StdoutDecisionSink()
    elif settings.decision_log == "database":
        sink = SqlDecisionStore(client.engine)
    return DecisionLog(
        sink,
        env=settings.env,
        instance=settings.instance_id,
        metrics=metrics,
        redaction=Redaction.from_paths(
            mask=settings.decision_log_mask, drop=settings.decision_log_drop
        ),
        sample_rate=settings.decision_log_sample_rate,
        queue_size=settings.decision_log_queue_size,
        batch_size=settings.decision_log_batch_size,
        retention=timedelta(hours=settings.decision_log_retention_hours),
    )


def build_trust(settings: Settings) -> Trust:
    """The service's signing key and the keys it trusts (bad key files fail start-up)."""
    signer = Signer.from_file(settings.signing_key) if settings.signing_key else None
    verifier = Verifier.from_specs(settings.verify_keys)
    if signer is not None and verifier.enabled and signer.key_id not in verifier.key_ids:
        log.warning("signing_key_not_trusted", key_id=signer.key_id, trusted=verifier.key_ids)
    return Trust(signer=signer, verifier=verifier)


async def _migrate(settings: Settings) -> None:
    if not settings.auto_migrate:
        return
    try:
        async with startup_turn(settings):  # several workers: one at a time
            await upgrade_to_head(settings.database_url)
    except Exception as exc:  # the database may be down: serve the last-known-good snapshot
        log.error("migration_failed", error=str(exc), error_type=type(exc).__name__)


async def _bootstrap(settings: Settings, governance: Governance, seed_file: Path) -> None:
    try:
        text = await asyncio.to_thread(seed_file.read_text)
        document = parse_policy_document(load_policy_text(text))
        async with startup_turn(settings):  # several workers: exactly one imports the seed
            await bootstrap(governance, document)
    except Exception as exc:
        log.error("bootstrap_failed", file=str(seed_file), error=str(exc))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global _global_manager
    settings: Settings = app.state.settings
    configure_logging(level=settings.log_level, json=settings.log_json)
    flush_traces = configure_tracing(instance=settings.instance_id)
    configure(
        WasmLimits(
            eval_timeout_ms=settings.wasm_eval_timeout_ms,
            max_memory_mb=settings.wasm_max_memory_mb,
            pool_size=settings.wasm_pool_size,
        )
    )
    await _migrate(settings)
    trust = build_trust(settings)
    client = PKGClient(
        settings.database_url,
        env=settings.env,
        audit_signer=trust.signer.sign_audit_row if trust.signer else None,
    )
    feed: RedisChangeFeed | InProcessBus = (
        RedisChangeFeed(
            settings.redis_url,
            channel=settings.redis_channel,
            on_reconnect=app.state.metrics.redis_reconnect,
        )
        if settings.redis_url
        else InProcessBus()
    )
    manager = build_manager(settings, client, feed, app.state.metrics, trust.verifier)
    governance = Governance(client, manager, trust=trust)
    if settings.seed_file is not None:
        await _bootstrap(settings, governance, settings.seed_file)
    await manager.start()
    shadow_store = SqlShadowRepository(client.engine)
    shadow, watch, guarded = build_shadow(
        settings, shadow_store, client, governance, app.state.metrics
    )
    await shadow.start()
    await watch.start()
    decision_log = build_decision_log(settings, client, app.state.metrics)
    await decision_log.start()
    app.state.manager, app.state.governance = manager, governance
    app.state.shadow, app.state.guarded_promotions = shadow, guarded
    app.state.decision_log = decision_log
    app.state.wasm_runtime = opa_wasm.WASM_RUNTIME_AVAILABLE
    _global_manager = manager
    folding = asyncio.create_task(app.state.metrics.fold_periodically(), name="pkg-metrics-fold")
    if getattr(app.state, "freeze_gc_after_start", False):  # app/serving.py says why
        gc.collect()
        gc.freeze()
    log.info(
        "pkg_listening",
        host=settings.host,
        port=settings.port,
        env=settings.env,
        version=manager.active_version,
        workers=settings.workers,
        redis=bool(settings.redis_url),
        instance=settings.instance_id,
        decision_log=settings.decision_log,
    )
    try:
        yield
    finally:
        log.info("pkg_stopping", env=settings.env, version=manager.active_version)
        app.state.manager = app.state.governance = None
        app.state.shadow = app.state.guarded_promotions = None
        if _global_manager is manager:
            _global_manager = None
        folding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await folding
        await watch.stop()
        await shadow.stop()
        await shadow_store.close()
        await decision_log.stop()  # flushes what is queued, while the database is still open
        await manager.stop()
        await client.close()
        flush_traces()
        app.state.metrics.close()  # several workers: this one's live gauges go
