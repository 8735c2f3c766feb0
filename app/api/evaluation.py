"""What a decision over HTTP is, for both transports of /evaluate and /evaluate/batch (the
FastAPI routes in app/api/routes/evaluate.py and the lean handler in app/api/lean.py): which
evaluator answers (`pick`), one decision and its envelope (`decide`, the one place for
per-decision hooks), a batch's validation and limit (`parse_batch`), and the two operations
(`evaluate_facts`, `evaluate_items`). Errors leave as exceptions that app/api/errors.py turns
into the same problem+json on both paths. Reads the evaluator once per request and evaluates
inline (microseconds: no thread hop). A batch is decided in slices of about `BATCH_SLICE_S`
of work, yielding to the event loop between them, and batches take turns (one deciding at a
time per event loop, first come first served), so each turn of the loop holds at most one
batch's slice: single requests that arrive meanwhile are answered between slices rather than
after whole batches. The answer is still one JSON document, from the one evaluator read at
its start.
"""

from __future__ import annotations

import asyncio
import weakref
from random import getrandbits
from time import perf_counter
from typing import Any, Final

import orjson
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.schemas import BatchQuery, BatchRequest, EvaluateQuery
from app.domain.errors import FactsError
from app.services.decision_log import DecisionLog, bind_decision_id
from app.services.evaluator import PKGEvaluator
from app.services.manager import PKGManager
from app.services.rollout import Route
from app.services.shadow import ShadowRunner
from app.settings import Settings

_UUID4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))  # version and variant bits
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)
# A batch yields to the event loop once it has decided for this long since it last did, and
# only one batch decides at a time: a single request waits for about one slice, whatever the
# number of batches in progress; a batch of 100 on the 100-rule workload yields about three
# times (bench/http_mixed.py, docs/performance.md). Tests set it to 0 (a pause per decision).
BATCH_SLICE_S: float = 0.0005
_batch_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _batch_turn() -> asyncio.Lock:
    """The lock batches take turns on, one per event loop (a lock belongs to one loop)."""
    loop = asyncio.get_running_loop()
    turn = _batch_turns.get(loop)
    if turn is None:
        turn = _batch_turns[loop] = asyncio.Lock()
    return turn


async def next_slice() -> None:
    """Between two slices of a batch: the requests that arrived meanwhile run now."""
    await asyncio.sleep(0)


async def pick(manager: PKGManager, query: BatchQuery) -> tuple[PKGEvaluator, Route]:
    if query.version:
        return await manager.load_evaluator(query.version), Route("pinned", version=query.version)
    freshness = manager.freshness  # PKG_STALE_POLICY=fail-closed: no possibly old decision
    if freshness.refuses(freshness.clock()):
        detail = freshness.reason(manager.last_error)
        raise HTTPException(503, detail, headers={"Retry-After": "5"})
    if query.target is None:  # no lane routes by anything else: the active snapshot
        evaluator, route = manager.get_active_evaluator(), Route.stable()
    else:
        evaluator, route = await manager.route(
            target=query.target, region=query.region, subject=query.subject
        )
    if evaluator is None:
        raise HTTPException(503, "no active policy snapshot yet")
    return evaluator, route


def decision_id() -> str:
    """A random UUID (version 4) as 32 hex digits, without `uuid4()`'s system call: decision
    ids name decisions, they guard nothing."""
    bits = (getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET
    return bits.to_bytes(16, "big").hex()  # `f"{bits:032x}"`, in half the time


def decide(
    evaluator: PKGEvaluator,
    facts: dict[str, Any],
    route: Route,
    *,
    metrics: Any,
    explain: bool,
    max_depth: int,
    decision_log: DecisionLog,
    role: str,
    entrypoint: str | None = None,
    nesting_at_most: int | None = None,
) -> dict[str, Any]:
    """One decision. Every decision of both paths passes here: the place for per-decision
    hooks (decision log, shadow lanes).

    What it returns is read, never changed, by everything downstream (the response, the
    decision log, shadow lanes): its subtask, edge and rule dicts are the snapshot's own."""
    decided_id = bind_decision_id(decision_id())  # on every log event from here on
    started = perf_counter()
    result = evaluator.evaluate(
        facts,
        max_facts_depth=max_depth,
        entrypoint=entrypoint,
        nesting_at_most=nesting_at_most,
        shared=True,
    )
    elapsed = perf_counter() - started
    metrics.observe_evaluation(evaluator.engine_type, elapsed)
    result["decision_id"] = decided_id
    result["engine"] = evaluator.engine_type
    result["lane"] = route.lane
    result["deployment_id"] = route.deployment_id
    result["duration_ms"] = int(elapsed * 1e7 + 0.5) / 1e4  # `round(ms, 4)` in half the time
    if explain:
        result["explain"] = evaluator.explain(facts)
    decision_log.offer(result, facts=facts, role=role)  # counts, traces, logs: never waits
    return result


async def evaluate_facts(
    manager: PKGManager,
    facts: dict[str, Any],
    query: EvaluateQuery,
    *,
    metrics: Any,
    settings: Settings,
    shadow: ShadowRunner | None = None,
    decision_log: DecisionLog,
    role: str,
    nesting_at_most: int | None = None,
) -> dict[str, Any]:
    """`nesting_at_most`: a bound on the facts' nesting known from the raw body, if any."""
    evaluator, route = await pick(manager, query)
    decision = decide(
        evaluator,
        facts,
        route,
        metrics=metrics,
        explain=query.explain,
        max_depth=settings.max_facts_depth,
        decision_log=decision_log,
        role=role,
        entrypoint=query.entrypoint,
        nesting_at_most=nesting_at_most,
    )
    if shadow is not None:
        shadow.offer(route, facts, decision)  # never waits: a shadow lane decides afterwards
    return decision


def parse_batch(raw: bytes, *, max_items: int) -> list[dict[str, Any]]:
    """The batch body as `BatchRequest` validates it (422 naming the field; 413 over the cap).

    A well-formed body is read by orjson and checked by hand (pydantic's JSON validation of
    100 free-form objects costs more than deciding them); anything else goes through
    `BatchRequest` for the error it names."""
    items = _well_formed_items(raw)
    if items is None:
        try:
            items = BatchRequest.model_validate_json(raw).items
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from exc
    if len(items) > max_items:
        raise HTTPException(
            413,
            f"items: {len(items)} fact sets; at most {max_items} per batch "
            f"(PKG_MAX_BATCH_ITEMS): split it into batches of {max_items}",
        )
    return items


def _well_formed_items(raw: bytes) -> list[dict[str, Any]] | None:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    items = body.get("items") if type(body) is dict else None
    if type(items) is not list or not items or any(type(item) is not dict for item in items):
        return None
    return items


async def evaluate_items(
    manager: PKGManager,
    items: list[dict[str, Any]],
    query: BatchQuery,
    *,
    metrics: Any,
    settings: Settings,
    shadow: ShadowRunner | None = None,
    decision_log: DecisionLog,
    role: str,
    nesting_at_most: int | None = None,
) -> dict[str, Any]:
    """`nesting_at_most`: a bound on every item's nesting known from the raw body, if any."""
    evaluator, route = await pick(manager, query)
    decisions = []
    max_depth = settings.max_facts_depth
    slice_s = BATCH_SLICE_S
    async with _batch_turn():  # no wait unless another batch is deciding
        yield_at = perf_counter() + slice_s
        for index, facts in enumerate(items):
            if index and perf_counter() >= yield_at:
                await next_slice()
                yield_at = perf_counter() + slice_s
            try:
                decisions.append(
                    decide(
                        evaluator,
                        facts,
                        route,
                        metrics=metrics,
                        explain=False,
                        max_depth=max_depth,
                        decision_log=decision_log,
                        role=role,
                        nesting_at_most=nesting_at_most,
                    )
                )
            except FactsError as exc:
                raise exc.within(f"items[{index}]") from exc
    if shadow is not None:
        for facts, decision in zip(items, decisions, strict=True):
            shadow.offer(route, facts, decision)
    return {"items": decisions}
