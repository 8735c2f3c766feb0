"""Guarded promotion (issue 11): promote only a candidate whose shadow lane agreed, and roll a
promotion back by itself when the fleet's share of error envelopes rises.

A guard is a dict (validated by the API): `max_divergence` + `min_shadow_decisions` are checked
before the promotion; `watch_s` + `max_error_rate` (+ `min_decisions`) arm a watch after it.
Every replica counts the answers it gives with the watched version (`GuardWatch.count`, called
from the request path through `ShadowRunner.offer`) and flushes them to the database; each
replica then adds up the fleet. The first replica to see the rate exceeded moves the guard from
`watching` to `rolled_back` with a conditional UPDATE, which exactly one can win, and calls the
rollback service (which takes the per-env promotion lock, audits and publishes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from app.domain.compare import is_error
from app.domain.errors import PromotionRefusedError
from app.services.audit_log import audit_guard
from app.services.decision_log import DecisionLogNotStoredError
from app.services.logs import get_logger
from app.services.ports import ShadowStore

log = get_logger("pkg.guard")

GUARD_ACTOR: Final = "pkg-guard"
DEFAULT_MIN_SHADOW_DECISIONS: Final = 100
DEFAULT_MIN_DECISIONS: Final = 20


class Promoter(Protocol):
    """The governance service, as far as guards need it."""

    @property
    def env(self) -> str: ...

    async def promote(
        self,
        version: str,
        *,
        actor: str,
        reason: str | None,
        force: bool = False,
        env: str | None = None,
        metrics: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]: ...

    async def rollback(
        self,
        *,
        actor: str,
        reason: str | None,
        to_version: str | None,
        env: str | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...


ShadowTotals = Callable[[str], Awaitable[dict[str, Any]]]
# (version, since) → a replay's figures (app/services/replay.py `Replay.figures`)
ReplayFigures = Callable[[str, str | None], Awaitable[dict[str, Any]]]
ActiveVersion = Callable[[str], Awaitable[str | None]]


@dataclass
class _Watched:
    promotion_id: int
    version: str
    config: Mapping[str, Any]
    watch_until: datetime
    decisions: int = 0
    errors: int = 0
    dirty: bool = False


class GuardWatch:
    """Counts this replica's answers on watched versions and acts on the fleet's figures."""

    def __init__(
        self,
        *,
        store: ShadowStore,
        promoter: Promoter,
        active_version: ActiveVersion,
        env: str,
        replica: str,
        interval_s: float = 5.0,
        db_timeout_s: float = 5.0,
    ) -> None:
        self._store = store
        self._promoter = promoter
        self._active_version = active_version
        self.env = env
        self.replica = replica
        self.interval_s = interval_s
        self.db_timeout_s = db_timeout_s
        self._watched: dict[int, _Watched] = {}
        self._by_version: dict[str, _Watched] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the request path
    def count(self, result: Mapping[str, Any]) -> None:
        if not self._by_version:
            return
        watched = self._by_version.get(result.get("snapshot"))  # type: ignore[arg-type]
        if watched is None:
            return
        watched.decisions += 1
        watched.errors += is_error(result)
        watched.dirty = True

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="pkg-guard-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:  # the database may be away: try again next time
                log.warning("guard_tick_failed", error=str(exc), error_type=type(exc).__name__)
            await asyncio.sleep(self.interval_s)

    # ------------------------------------------------------------------ one round
    async def tick(self) -> None:
        """Learn the watching guards, flush our counts, and decide each guard on the fleet's."""
        async with asyncio.timeout(self.db_timeout_s):
            guards = await self._store.watching_guards(self.env)
        self._track(guards)
        await self._flush()
        for watched in list(self._watched.values()):
            await self._decide(watched)

    def _track(self, guards: list[dict[str, Any]]) -> None:
        current: dict[int, _Watched] = {}
        for guard in guards:
            pid = int(guard["promotion_id"])
            current[pid] = self._watched.get(pid) or _Watched(
                pid, guard["version"], guard["config"], _aware(guard["watch_until"])
            )
        self._watched = current
        self._by_version = {w.version: w for w in current.values()}

    async def _flush(self) -> None:
        rows = [
            {"promotion_id": w.promotion_id, "replica": self.replica}
            | {"decisions": w.decisions, "errors": w.errors}
            for w in self._watched.values()
            if w.dirty
        ]
        if rows:
            async with asyncio.timeout(self.db_timeout_s):
                await self._store.flush_guard_stats(rows)
            for watched in self._watched.values():
                watched.dirty = False

    async def _decide(self, watched: _Watched) -> None:
        async with asyncio.timeout(self.db_timeout_s):
            totals = await self._store.guard_totals(watched.promotion_id)
            active = await self._active_version(self.env)
        figures = _figures(watched, totals)
        if active != watched.version:
            await self._close(watched, "superseded", figures | {"active_version": active})
        elif _exceeded(watched.config, totals):
            await self._roll_back(watched, figures)
        elif datetime.now(UTC) >= watched.watch_until:
            await self._close(watched, "passed", figures)

    async def _close(self, watched: _Watched, status: str, figures: dict[str, Any]) -> None:
        if await self._store.decide_guard(
            watched.promotion_id, status=status, outcome=figures, decided_by=self.replica
        ):
            log.info("guard_closed", promotion_id=watched.promotion_id, status=status, **figures)
            _audit_watch(f"guard_{status}", watched, env=self.env, figures=figures)
        self._forget(watched)

    async def _roll_back(self, watched: _Watched, figures: dict[str, Any]) -> None:
        claimed = await self._store.decide_guard(
            watched.promotion_id, status="rolled_back", outcome=figures, decided_by=self.replica
        )
        self._forget(watched)
        if not claimed:
            return  # another replica won the guard: it rolls back, we don't
        reason = (
            f"guard: {figures['errors']} error answers in {figures['decisions']} decisions "
            f"({figures['error_rate']:.2%} > {figures['max_error_rate']:.2%}) "
            f"within {figures['watch_s']}s of promotion {watched.promotion_id}"
        )
        try:
            await self._promoter.rollback(
                actor=GUARD_ACTOR, reason=reason, to_version=None, env=self.env, metrics=figures
            )
        except Exception as exc:
            # give the guard back so the next round (here or elsewhere) tries again
            await self._store.decide_guard(
                watched.promotion_id, status="watching", from_status="rolled_back"
            )
            log.error("guard_rollback_failed", promotion_id=watched.promotion_id, error=str(exc))
            return
        log.warning("guard_rolled_back", promotion_id=watched.promotion_id, **figures)
        _audit_watch("guard_rolled_back", watched, env=self.env, figures=figures, reason=reason)

    def _forget(self, watched: _Watched) -> None:
        self._watched.pop(watched.promotion_id, None)
        self._by_version.pop(watched.version, None)


def _audit_watch(
    action: str,
    watched: _Watched,
    *,
    env: str,
    figures: Mapping[str, Any],
    reason: str | None = None,
) -> None:
    audit_guard(
        action,
        env=env,
        version=watched.version,
        actor=GUARD_ACTOR,
        reason=reason,
        promotion_id=watched.promotion_id,
        decisions=figures.get("decisions"),
        errors=figures.get("errors"),
        error_rate=figures.get("error_rate"),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _exceeded(config: Mapping[str, Any], totals: Mapping[str, int]) -> bool:
    decisions = totals["decisions"]
    minimum = int(config.get("min_decisions") or DEFAULT_MIN_DECISIONS)
    if decisions < max(1, minimum):
        return False
    return totals["errors"] / decisions > float(config["max_error_rate"])


def _figures(watched: _Watched, totals: Mapping[str, int]) -> dict[str, Any]:
    decisions = totals["decisions"]
    return {
        "guard_promotion_id": watched.promotion_id,
        "version": watched.version,
        "decisions": decisions,
        "errors": totals["errors"],
        "error_rate": totals["errors"] / decisions if decisions else 0.0,
        "replicas": totals["replicas"],
        "max_error_rate": float(watched.config["max_error_rate"]),
        "min_decisions": int(watched.config.get("min_decisions") or DEFAULT_MIN_DECISIONS),
        "watch_s": watched.config["watch_s"],
    }


# ---------------------------------------------------------------------------- before promotion
async def _arm(
    store: ShadowStore, promotion: dict[str, Any], *, env: str, guard: dict[str, Any]
) -> dict[str, Any]:
    """The watch, written right after the promotion committed. If that write fails the
    promotion still stands: the answer says the watch is not armed instead of a false 5xx."""
    created = _aware(promotion["created_at"])
    try:
        return await store.create_guard(
            promotion_id=int(promotion["id"]),
            env=env,
            version=str(promotion["to_version"]),
            from_version=promotion.get("from_version"),
            config=guard,
            watch_until=created + timedelta(seconds=float(guard["watch_s"])),
        )
    except Exception as exc:
        log.error("guard_not_armed", promotion_id=promotion["id"], error=str(exc))
        return {"status": "not_armed", "error": f"{type(exc).__name__}: {exc}"}


async def _check_divergence(
    shadow_totals: ShadowTotals, version: str, guard: Mapping[str, Any], *, force: bool
) -> dict[str, Any]:
    totals = await shadow_totals(version)
    limit = float(guard["max_divergence"])
    minimum = int(guard.get("min_shadow_decisions") or DEFAULT_MIN_SHADOW_DECISIONS)
    evaluated, divergence = int(totals["evaluated"]), totals["divergence"]
    passed = evaluated >= minimum and divergence is not None and divergence <= limit
    figures = {**totals, "passed": passed}
    if passed or force:
        return figures
    if evaluated < minimum:
        why = f"has only {evaluated} shadow decisions (the guard needs at least {minimum})"
    else:
        why = f"diverged on {divergence:.2%} of {evaluated} shadow decisions (at most {limit:.2%})"
    raise PromotionRefusedError(f"snapshot {version} {why}; promote with force to override")


async def _check_replay(
    replay: ReplayFigures | None, version: str, guard: Mapping[str, Any], *, force: bool
) -> dict[str, Any]:
    """`max_replay_divergence`: the candidate decides the logged decisions since
    `replay_since` again; refused when it answers too many of them differently."""
    unlogged = PromotionRefusedError(
        "max_replay_divergence needs the decision log in the database (PKG_DECISION_LOG=database)"
    )
    if replay is None:
        raise unlogged
    since = guard.get("replay_since")
    try:
        figures = await replay(version, since)
    except DecisionLogNotStoredError as exc:
        raise unlogged from exc
    limit = float(guard["max_replay_divergence"])
    minimum = int(guard.get("min_replay_decisions") or 1)
    replayed, divergence = int(figures["replayed"]), figures["divergence"]
    passed = replayed >= minimum and divergence is not None and divergence <= limit
    figures = {**figures, "max_replay_divergence": limit, "passed": passed}
    if passed or force:
        return figures
    window = f"since {since}" if since else "in the log"
    unreplayable = f", {figures['unreplayable']} unreplayable" if figures["unreplayable"] else ""
    if replayed < minimum:
        why = f"has only {replayed} replayable logged decisions {window} (at least {minimum})"
    else:
        why = (
            f"answers {figures['different']} of {replayed} logged decisions {window} "
            f"differently ({divergence:.2%} > {limit:.2%}{unreplayable})"
        )
    raise PromotionRefusedError(f"snapshot {version} {why}; promote with force to override")


class GuardedPromotions:
    """`POST /promotions` with a `guard`: the divergence checks, the audit figures, the watch."""

    def __init__(
        self,
        promoter: Promoter,
        store: ShadowStore,
        shadow_totals: ShadowTotals,
        replay: ReplayFigures | None = None,
    ):
        self._promoter = promoter
        self._store = store
        self._shadow_totals = shadow_totals
        self.replay = replay  # set once the decision log is built (app/entrypoints/http)

    async def promote(
        self,
        version: str,
        *,
        guard: dict[str, Any],
        actor: str,
        reason: str | None,
        force: bool,
        env: str | None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        """Check the divergence guard (refused unless `force`), promote with the figures in the
        audit row, and arm the watch."""
        env = env or self._promoter.env
        audit: dict[str, Any] = {"guard": guard}
        if guard.get("max_divergence") is not None:
            totals = self._shadow_totals
            try:
                audit["shadow"] = await _check_divergence(totals, version, guard, force=force)
            except PromotionRefusedError as exc:
                audit_guard(
                    "guard_refused",
                    outcome="refused",
                    env=env,
                    version=version,
                    actor=actor,
                    on_behalf_of=on_behalf_of,
                    reason=reason,
                    error=str(exc),
                )
                raise
        if guard.get("max_replay_divergence") is not None:
            audit["replay"] = await _check_replay(self.replay, version, guard, force=force)
        promotion = await self._promoter.promote(
            version,
            actor=actor,
            reason=reason,
            force=force,
            env=env,
            metrics=audit,
            on_behalf_of=on_behalf_of,
        )
        if guard.get("watch_s") is not None:
            armed = await _arm(self._store, promotion, env=env, guard=guard)
            promotion = {**promotion, "guard": armed}
        return promotion

    async def guard(self, promotion_id: int) -> dict[str, Any] | None:
        return await self._store.get_guard(promotion_id)
