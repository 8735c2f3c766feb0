"""The HTTP app's lifespan: builds every part in order (through app/entrypoints/composition),
hands the manager to the app, and closes everything in reverse; and the seed's global manager.
Nothing here runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from app.adapters import opa_wasm
from app.adapters.bus.memory import InProcessBus
from app.adapters.bus.redis_feed import RedisChangeFeed
from app.adapters.db.client import PKGClient
from app.adapters.db.shadow import SqlShadowRepository
from app.adapters.observability.logging import configure_logging
from app.adapters.observability.metrics import PrometheusMetrics
from app.adapters.observability.tracing import configure_tracing
from app.adapters.opa_wasm import WasmLimits, configure
from app.domain.core import describe as decision_core
from app.entrypoints.composition import install_defaults
from app.entrypoints.composition.builders import (
    bootstrap_seed,
    build_decision_log,
    build_manager,
    build_replay,
    build_rule_tally,
    build_shadow,
    build_trust,
    migrate,
)
from app.services.governance import Governance
from app.services.logs import get_logger
from app.services.manager import PKGManager
from app.settings import Settings

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
    await migrate(settings)
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
        await bootstrap_seed(settings, governance, settings.seed_file)
    await manager.start()
    shadow_store = SqlShadowRepository(client.engine)
    shadow, watch, guarded = build_shadow(
        settings, shadow_store, client, governance, app.state.metrics
    )
    await shadow.start()
    await watch.start()
    rule_tally = build_rule_tally(settings, client, shadow)
    await rule_tally.start()
    app.state.rule_tally = rule_tally
    decision_log = build_decision_log(settings, client, app.state.metrics)
    await decision_log.start()
    app.state.replay = build_replay(settings, decision_log, governance)
    guarded.replay = app.state.replay.figures
    app.state.manager, app.state.governance = manager, governance
    app.state.shadow, app.state.guarded_promotions = shadow, guarded
    app.state.decision_log = decision_log
    app.state.wasm_runtime = opa_wasm.WASM_RUNTIME_AVAILABLE
    _global_manager = manager
    folding = asyncio.create_task(app.state.metrics.fold_periodically(), name="pkg-metrics-fold")
    if getattr(app.state, "freeze_gc_after_start", False):  # create_served_app says why
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
        decision_core=decision_core(),
    )
    try:
        yield
    finally:
        log.info("pkg_stopping", env=settings.env, version=manager.active_version)
        app.state.manager = app.state.governance = None
        app.state.shadow = app.state.guarded_promotions = app.state.replay = None
        if _global_manager is manager:
            _global_manager = None
        folding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await folding
        await watch.stop()
        await shadow.stop()
        await rule_tally.stop()
        await shadow_store.close()
        await decision_log.stop()  # flushes what is queued, while the database is still open
        await manager.stop()
        await client.close()
        flush_traces()
        app.state.metrics.close()  # several workers: this one's live gauges go
