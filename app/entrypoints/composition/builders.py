"""The service's parts built from the settings: the manager, shadow lanes and guards, the
decision log, trust; migrations and the seed import, one worker at a time. The HTTP lifespan
(app/entrypoints/http/lifespan.py) and the seed's `initialize_global_pkg_manager` build through
here; nothing runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from app.adapters.db.client import PKGClient
from app.adapters.db.coverage import SqlRuleCountRepository
from app.adapters.db.decisions import SqlDecisionStore
from app.adapters.db.migrations import upgrade_to_head
from app.adapters.db.shadow import SqlShadowRepository
from app.adapters.observability.decision_stdout import StdoutDecisionSink
from app.adapters.snapshot_cache import FileSnapshotCache
from app.domain.document import parse_policy_document
from app.domain.redaction import Redaction
from app.services.coverage import RuleTally, TallyConfig
from app.services.decision_log import DecisionLog
from app.services.governance import Governance, bootstrap
from app.services.guard import GuardedPromotions, GuardWatch
from app.services.logs import get_logger
from app.services.manager import ManagerConfig, PKGManager
from app.services.metrics import ManagerMetrics
from app.services.policy_text import load_policy_text
from app.services.ports import SnapshotSource
from app.services.replay import Replay, ReplayConfig
from app.services.shadow import ShadowConfig, ShadowRunner
from app.services.signing import Signer, Verifier
from app.services.trust import Trust
from app.settings import Settings

STARTUP_LOCK: Final = ".startup.lock"
log = get_logger("pkg.lifespan")


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


def build_rule_tally(settings: Settings, client: PKGClient, shadow: ShadowRunner) -> RuleTally:
    """Production coverage: counts every answer's fired rules (through `shadow.offer`, before
    the guard's counter), under the shadow counters' per-process replica key."""
    config = TallyConfig(
        replica=shadow.config.replica,
        bucket_s=settings.coverage_bucket_s,
        flush_interval_s=settings.coverage_flush_interval_s,
        db_timeout_s=settings.db_timeout_s,
    )
    tally = RuleTally(SqlRuleCountRepository(client.engine), config, then=shadow.counter)
    shadow.counter = tally
    return tally


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


def build_replay(settings: Settings, decision_log: DecisionLog, governance: Governance) -> Replay:
    """Replay of the logged decisions (POST /snapshots/{v}/replay, promotion guards)."""
    config = ReplayConfig(
        max_records=settings.replay_max_records,
        timeout_s=settings.replay_timeout_s,
        batch_size=settings.replay_batch_size,
        max_examples=settings.replay_examples,
        max_facts_depth=settings.max_facts_depth,
    )
    return Replay(decision_log.recorded, governance, env=settings.env, config=config)


def build_trust(settings: Settings) -> Trust:
    """The service's signing key and the keys it trusts (bad key files fail start-up)."""
    signer = Signer.from_file(settings.signing_key) if settings.signing_key else None
    verifier = Verifier.from_specs(settings.verify_keys)
    if signer is not None and verifier.enabled and signer.key_id not in verifier.key_ids:
        log.warning("signing_key_not_trusted", key_id=signer.key_id, trusted=verifier.key_ids)
    return Trust(signer=signer, verifier=verifier)


async def migrate(settings: Settings) -> None:
    if not settings.auto_migrate:
        return
    try:
        async with startup_turn(settings):  # several workers: one at a time
            await upgrade_to_head(settings.database_url)
    except Exception as exc:  # the database may be down: serve the last-known-good snapshot
        log.error("migration_failed", error=str(exc), error_type=type(exc).__name__)


async def bootstrap_seed(settings: Settings, governance: Governance, seed_file: Path) -> None:
    try:
        text = await asyncio.to_thread(seed_file.read_text)
        document = parse_policy_document(load_policy_text(text))
        async with startup_turn(settings):  # several workers: exactly one imports the seed
            await bootstrap(governance, document)
    except Exception as exc:
        log.error("bootstrap_failed", file=str(seed_file), error=str(exc))


def sync_interval(settings: Settings) -> float:
    """How often a worker re-reads the active version: the reconcile interval, or, embedded
    with several workers (no feed reaches the others), the worker sync interval."""
    if settings.workers > 1 and not settings.redis_url:
        return min(settings.reconcile_interval_s, settings.worker_sync_interval_s)
    return settings.reconcile_interval_s


@contextlib.asynccontextmanager
async def startup_turn(settings: Settings) -> AsyncIterator[None]:
    """With several workers, one at a time through migrations and the seed import."""
    if settings.workers == 1:
        yield
        return
    descriptor = await asyncio.to_thread(_open_lock, settings.snapshot_cache_dir / STARTUP_LOCK)
    try:
        await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _open_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
