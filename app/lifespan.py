"""The composition root: builds every adapter in order, hands the manager to the app, and
closes everything in reverse. Nothing here runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI

from app.adapters import opa_wasm
from app.adapters.bus.memory import InProcessBus
from app.adapters.bus.redis_feed import RedisChangeFeed
from app.adapters.db.client import PKGClient
from app.adapters.db.migrations import upgrade_to_head
from app.adapters.observability.logging import configure_logging
from app.adapters.observability.metrics import PrometheusMetrics
from app.adapters.opa_wasm import WasmLimits, configure
from app.adapters.snapshot_cache import FileSnapshotCache
from app.domain.document import parse_policy_document
from app.services.governance import Governance, bootstrap
from app.services.manager import ManagerConfig, PKGManager
from app.services.metrics import ManagerMetrics
from app.services.policy_text import load_policy_text
from app.services.ports import SnapshotSource
from app.services.signing import Signer, Verifier
from app.services.trust import Trust
from app.serving import startup_turn, sync_interval
from app.settings import Settings
from app.wiring import install_defaults

log = structlog.get_logger("pkg.lifespan")
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
    app.state.manager, app.state.governance = manager, governance
    app.state.wasm_runtime = opa_wasm.WASM_RUNTIME_AVAILABLE
    _global_manager = manager
    if getattr(app.state, "freeze_gc_after_start", False):  # app/serving.py says why
        gc.collect()
        gc.freeze()
    log.info(
        "pkg_started",
        env=settings.env,
        version=manager.active_version,
        redis=bool(settings.redis_url),
        instance=settings.instance_id,
    )
    try:
        yield
    finally:
        app.state.manager = app.state.governance = None
        if _global_manager is manager:
            _global_manager = None
        await manager.stop()
        await client.close()
        getattr(app.state.metrics, "close", lambda: None)()
