"""OpaWasm against hand-written ABI modules: results, host builtins, sandbox limits, pooling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

import pytest

import app.adapters.opa_wasm as opa_wasm
from app.adapters.opa_wasm import OpaWasm, WasmEvaluationError, WasmLimits
from app.adapters.opa_wasm.instance import WasmInstance
from app.adapters.opa_wasm.runtime import runtime
from app.domain.engine import ENGINE_REGISTRY, build_engine
from app.domain.errors import ChecksumMismatchError, EngineLoadError
from app.domain.snapshot import PKGSnapshotData
from app.services.evaluator import PKGEvaluator
from tests.unit.wasm import wat

# a deadline no evaluation that returns can miss, however loaded the machine: a test that
# needs it to trip advances the engine's own clock (`past_the_deadline`) instead of waiting
LIMITS = WasmLimits(eval_timeout_ms=10_000, max_memory_mb=2, pool_size=2)
DEADLINE = "exceeded 10000 ms deadline"
EMPTY: dict[str, list[Any]] = {"subtasks": [], "dag": [], "rules": []}

Kitchen = Callable[..., OpaWasm]


@pytest.fixture
def kitchen() -> Kitchen:
    """`kitchen(entrypoint, data=..., limits=...)` → an engine on the ABI 1.2 test module."""

    def build(entrypoint: str, *, data: Any = None, limits: WasmLimits = LIMITS) -> OpaWasm:
        return OpaWasm.load_from_bytes(
            wat.kitchen_wasm(), entrypoint=entrypoint, data=data, limits=limits
        )

    return build


def advance_until_done(engine: OpaWasm, running: Future[Any]) -> None:
    """Advance the wasm epoch (the clock deadlines count) a whole deadline at a time until
    `running`, an evaluation that never returns by itself, has stopped; nothing else may be
    evaluating meanwhile, or it would be stopped too."""
    clock = runtime().engine
    while not running.done():  # a round that lands before the call has begun is just repeated
        for _ in range(engine.limits.deadline_ticks):
            clock.increment_epoch()
        wait([running], timeout=0.001)


def past_the_deadline(engine: OpaWasm, facts: dict[str, Any]) -> dict[str, Any]:
    """`engine.evaluate(facts)` for a policy that loops forever: run until its deadline."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(engine.evaluate, facts)
        advance_until_done(engine, running)
        return running.result()


def wasm_snapshot(
    artifact: bytes, *, checksum: str | None = None, entrypoint: str | None = None
) -> PKGSnapshotData:
    return PKGSnapshotData(
        id=1,
        version="wasm@1",
        engine="wasm",
        wasm_artifact=artifact,
        checksum=wat.sha256(artifact) if checksum is None else checksum,
        rules=[],
        entrypoint=entrypoint,
    )


# -- results ---------------------------------------------------------------------------------


def test_constant_true_becomes_an_empty_decision_with_result(kitchen: Kitchen) -> None:
    assert kitchen("const").evaluate({"tags": []}) == {**EMPTY, "result": True}


def test_input_is_passed_through_as_json(kitchen: Kitchen) -> None:
    facts = {"tags": ["a", "é"], "signals": {"risk": 0.5}, "context": {"n": [1, None, True]}}
    assert kitchen("echo_input").evaluate(facts) == {**EMPTY, "result": facts}


def test_data_is_loaded_once_and_seen_by_every_evaluation(kitchen: Kitchen) -> None:
    engine = kitchen("echo_data", data={"limits": {"max": 3}})
    for _ in range(3):
        assert engine.evaluate({})["result"] == {"limits": {"max": 3}}


def test_data_defaults_to_an_empty_object(kitchen: Kitchen) -> None:
    assert kitchen("echo_data").evaluate({})["result"] == {}


def test_object_result_with_subtasks_is_used_as_the_decision(kitchen: Kitchen) -> None:
    out = kitchen("decision").evaluate({"tags": ["vip"]})
    assert out == wat.DECISION  # the decision itself: no duplicate `result` key


def test_object_result_without_a_match_gives_empty_lists(kitchen: Kitchen) -> None:
    out = kitchen("decision").evaluate({"tags": ["basic"]})
    assert out == EMPTY


def test_an_undefined_result_set_gives_result_none(kitchen: Kitchen) -> None:
    assert kitchen("undefined").evaluate({}) == {**EMPTY, "result": None}


def test_many_evaluations_reuse_the_heap(kitchen: Kitchen) -> None:
    engine = kitchen("echo_input", limits=replace(LIMITS, max_memory_mb=1, pool_size=1))
    big = {"blob": "x" * 20_000}
    for _ in range(200):  # 200 x 20 KB would overflow 1 MiB if the heap were not reset
        assert engine.evaluate(big)["result"] == big


# -- host builtins, arity 0..4 ---------------------------------------------------------------


def test_builtin0_time_now_ns(kitchen: Kitchen) -> None:
    before = time.time_ns()
    now = kitchen("builtin0").evaluate({})["result"]
    assert before <= now <= time.time_ns()


def test_builtin1_upper(kitchen: Kitchen) -> None:
    assert kitchen("builtin1").evaluate({})["result"] == "PKG"


def test_builtin2_sprintf(kitchen: Kitchen) -> None:
    assert kitchen("builtin2").evaluate({})["result"] == 'ann scored 3.14 (7) {"k":[1,true]}%'


def test_builtin3_replace(kitchen: Kitchen) -> None:
    assert kitchen("builtin3").evaluate({})["result"] == "a+b+c"


def test_builtin4_time_add_date(kitchen: Kitchen) -> None:
    # 1970-01-01 + 1 year, 2 months, 3 days = 1971-03-04T00:00:00Z
    assert kitchen("builtin4").evaluate({})["result"] == 36_892_800 * 10**9


def test_uuid_is_stable_per_key_within_one_evaluation(kitchen: Kitchen) -> None:
    engine = kitchen("uuid_twice")
    first, second = engine.evaluate({})["result"]
    assert first == second and uuid.UUID(first).version == 4
    assert engine.evaluate({})["result"][0] != first


def test_json_is_valid_and_regex_split(kitchen: Kitchen) -> None:
    assert kitchen("is_valid").evaluate({})["result"] is True
    assert kitchen("split").evaluate({})["result"] == ["a", "b", "c"]


def test_println_does_not_disturb_the_result(kitchen: Kitchen) -> None:
    assert kitchen("print").evaluate({})["result"] is True


def test_a_module_needing_an_unknown_builtin_is_refused_at_load() -> None:
    with pytest.raises(EngineLoadError, match=r"crypto\.x509\.parse_certificates"):
        OpaWasm.load_from_bytes(wat.compile_wat(wat.unknown_builtin_wat()), limits=LIMITS)


# -- ABI versions ----------------------------------------------------------------------------


@pytest.mark.parametrize("minor", [1, None], ids=["abi-1.1", "abi-1.0-no-globals"])
def test_modules_without_opa_eval_use_the_context_calls(minor: int | None) -> None:
    artifact = wat.compile_wat(wat.context_wat(minor=minor))
    echo = OpaWasm.load_from_bytes(artifact, entrypoint="ctx/echo", data={"d": 1})
    assert echo.evaluate({"a": [1]})["result"] == {"input": {"a": [1]}, "data": {"d": 1}}
    assert echo.evaluate({"b": 2})["result"] == {"input": {"b": 2}, "data": {"d": 1}}
    const = OpaWasm.load_from_bytes(artifact, entrypoint="ctx/const")
    assert const.evaluate({}) == {**EMPTY, "result": True}


def test_integers_beyond_64_bits_reach_the_policy_and_come_back_exact() -> None:
    engine = OpaWasm.load_from_bytes(
        wat.compile_wat(wat.context_wat()), entrypoint="ctx/echo", data={1: 2**70}, limits=LIMITS
    )
    facts = {"n": 2**70 + 1, "m": -(2**65)}
    assert engine.evaluate(facts)["result"] == {"input": facts, "data": {"1": 2**70}}


def test_a_context_module_switches_entrypoints_call_by_call() -> None:
    # the evaluation context is made once per instance: each call still gets its own entrypoint
    engine = OpaWasm.load_from_bytes(
        wat.compile_wat(wat.context_wat()), entrypoint="ctx/echo", data={"d": 1}, limits=LIMITS
    )
    for n in range(3):
        assert engine.evaluate({"n": n}, entrypoint="ctx/const")["result"] is True
        assert engine.evaluate({"n": n})["result"] == {"input": {"n": n}, "data": {"d": 1}}
        echoed = engine.evaluate({"m": n}, entrypoint="ctx/echo")["result"]
        assert echoed == {"input": {"m": n}, "data": {"d": 1}}


def test_the_deadline_covers_the_whole_evaluation_not_each_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the clock passes the deadline between two calls into the module (the input parsed,
    # `eval` not yet called): the evaluation stops there instead of starting a new deadline
    engine = OpaWasm.load_from_bytes(
        wat.compile_wat(wat.context_wat()), entrypoint="ctx/echo", limits=LIMITS
    )
    parse = WasmInstance._parse

    def parse_then_stall(self: WasmInstance, store: Any, data: bytes) -> int:
        value = parse(self, store, data)
        for _ in range(engine.limits.deadline_ticks + 1):
            runtime().engine.increment_epoch()
        return value

    monkeypatch.setattr(WasmInstance, "_parse", parse_then_stall)
    with pytest.raises(WasmEvaluationError, match=DEADLINE):
        engine.evaluate({"a": 1})
    monkeypatch.undo()
    assert engine.evaluate({"a": 1})["result"] == {"input": {"a": 1}, "data": {}}


def test_an_older_modules_result_variable_is_its_result() -> None:
    # OPA's first wasm releases bound the query's value to `x`: `[{"x": true}]`
    artifact = wat.compile_wat(wat.context_wat(minor=None, binding="x"))
    const = OpaWasm.load_from_bytes(artifact, entrypoint="ctx/const", limits=LIMITS)
    assert const.evaluate({}) == {**EMPTY, "result": True}


def test_an_unknown_entrypoint_is_refused_naming_the_declared_ones() -> None:
    with pytest.raises(EngineLoadError, match="ctx/const, ctx/echo"):
        OpaWasm.load_from_bytes(wat.compile_wat(wat.context_wat()), entrypoint="pkg/result")


def test_bytes_that_are_not_wasm_are_refused() -> None:
    with pytest.raises(EngineLoadError, match="does not compile"):
        OpaWasm.load_from_bytes(b"\x00asm-not-really", limits=LIMITS)


# -- sandbox ---------------------------------------------------------------------------------


def test_abort_becomes_an_evaluation_error_with_the_message(kitchen: Kitchen) -> None:
    with pytest.raises(WasmEvaluationError, match="wasm policy aborted: policy said no"):
        kitchen("abort").evaluate({})


def test_an_infinite_loop_stops_at_the_deadline(kitchen: Kitchen) -> None:
    # the real ticker, not `past_the_deadline`: 1 s, which the microseconds of the load-time
    # calls (they count against it too) cannot reach, and which the loop always does
    engine = kitchen("loop", limits=replace(LIMITS, eval_timeout_ms=1000, pool_size=1))
    with pytest.raises(WasmEvaluationError, match="exceeded 1000 ms deadline"):
        engine.evaluate({})  # an infinite loop: returning at all is the deadline at work


def test_the_deadline_counts_the_engines_clock(kitchen: Kitchen) -> None:
    engine = kitchen("loop", limits=replace(LIMITS, pool_size=1))
    with pytest.raises(WasmEvaluationError, match=DEADLINE):
        past_the_deadline(engine, {})


def test_memory_growth_stops_at_the_cap(kitchen: Kitchen) -> None:
    pages = kitchen("grow", limits=replace(LIMITS, max_memory_mb=2)).evaluate({})["result"]
    assert pages == 2 * 1024 * 1024 // 65536


def test_unbounded_allocation_aborts_at_the_cap(kitchen: Kitchen) -> None:
    with pytest.raises(WasmEvaluationError, match="opa_malloc: failed"):
        kitchen("hog").evaluate({})


def test_input_larger_than_the_cap_is_refused(kitchen: Kitchen) -> None:
    engine = kitchen("echo_input")
    with pytest.raises(WasmEvaluationError, match="memory cap of 2 MiB exhausted"):
        engine.evaluate({"blob": "x" * 3_000_000})
    assert engine.evaluate({"ok": 1})["result"] == {"ok": 1}


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("loop", DEADLINE),
        ("abort", "aborted: policy said no"),
        ("trap", "trapped: .*unreachable"),
    ],
)
def test_the_engine_stays_usable_after_a_failed_evaluation(
    kitchen: Kitchen, tag: str, message: str
) -> None:
    engine = kitchen("guarded", limits=replace(LIMITS, pool_size=1))
    assert engine.evaluate({"tags": ["fine"]})["result"] == {"tags": ["fine"]}
    evaluate = past_the_deadline if tag == "loop" else OpaWasm.evaluate
    with pytest.raises(WasmEvaluationError, match=message):
        evaluate(engine, {"tags": [tag]})
    assert engine.evaluate({"tags": ["fine"]})["result"] == {"tags": ["fine"]}
    assert engine.instances_created == 1  # the trapped instance was replaced, not reused


def test_facts_that_are_not_json_are_refused(kitchen: Kitchen) -> None:
    with pytest.raises(WasmEvaluationError, match="not JSON"):
        kitchen("const").evaluate({"when": object()})


def test_eight_threads_at_once_each_get_their_own_result(kitchen: Kitchen) -> None:
    engine = kitchen("guarded", limits=replace(LIMITS, pool_size=8))

    def run(worker: int) -> list[bool]:
        return [
            engine.evaluate({"worker": worker, "i": i})["result"] == {"worker": worker, "i": i}
            for i in range(150)
        ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [ok for batch in pool.map(run, range(8)) for ok in batch]
    assert len(outcomes) == 1200 and all(outcomes)
    assert engine.instances_created <= 7  # the first instance plus at most 7 more


def test_threads_beyond_the_pool_size_wait_for_an_instance(kitchen: Kitchen) -> None:
    engine = kitchen("echo_input", limits=replace(LIMITS, pool_size=2))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: engine.evaluate({"i": i})["result"], range(200)))
    assert results == [{"i": i} for i in range(200)]
    assert engine.instances_created <= 1


# -- snapshots and the registry --------------------------------------------------------------


def test_a_snapshot_whose_checksum_does_not_match_is_refused() -> None:
    snapshot = wasm_snapshot(wat.kitchen_wasm(), checksum="0" * 64, entrypoint="const")
    with pytest.raises(ChecksumMismatchError, match="checksum"):
        PKGEvaluator(snapshot)


def test_load_from_bytes_refuses_a_checksum_that_does_not_match() -> None:
    artifact = wat.kitchen_wasm()
    with pytest.raises(EngineLoadError, match="does not match"):
        OpaWasm.load_from_bytes(artifact, checksum="sha256-abc", entrypoint="const")
    engine = OpaWasm.load_from_bytes(
        artifact, checksum=f"sha256:{wat.sha256(artifact)}", entrypoint="const"
    )
    assert engine.checksum == wat.sha256(artifact)


def test_a_snapshot_without_an_artifact_is_refused() -> None:
    snapshot = wasm_snapshot(b"", entrypoint="const")
    with pytest.raises(EngineLoadError, match="no wasm artifact"):
        OpaWasm.from_snapshot(snapshot)


def test_the_wasm_engine_is_registered_and_builds_from_a_snapshot() -> None:
    assert ENGINE_REGISTRY["wasm"] is opa_wasm.build_wasm_engine
    engine = build_engine(wasm_snapshot(wat.kitchen_wasm(), entrypoint="decision"))
    assert engine.evaluate({"tags": ["vip"]})["subtasks"] == wat.DECISION["subtasks"]


def test_the_default_entrypoint_is_pkg_result() -> None:
    with pytest.raises(EngineLoadError, match="'pkg/result'"):
        OpaWasm.from_snapshot(wasm_snapshot(wat.kitchen_wasm()))


def test_without_wasmtime_snapshots_get_the_fallback_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(opa_wasm, "WASM_RUNTIME_AVAILABLE", False)
    engine = build_engine(wasm_snapshot(wat.kitchen_wasm(), entrypoint="decision"))
    out = engine.evaluate({"tags": ["vip"]})
    assert out["subtasks"] == [] and out["dag"] == [] and out["result"] is None
    assert [rule["rule_id"] for rule in out["rules"]] == ["wasm-fallback"]


def test_failures_in_some_threads_do_not_leak_into_others(kitchen: Kitchen) -> None:
    # every failure is one no speed can avoid or cause: an abort, a trap, and a loop that runs
    # until the test advances the engine's clock past its deadline; fine decisions have 10 s
    engine = kitchen("guarded", limits=replace(LIMITS, pool_size=4))
    expected = {"fine": None, "abort": "aborted: policy said no", "trap": "unreachable"}

    def run(worker: int) -> list[bool]:
        outcomes = []
        for i in range(60):
            tag = ("fine", "abort", "trap", "fine")[(worker + i) % 4]
            facts = {"tags": [tag], "worker": worker, "i": i}
            try:
                outcomes.append(engine.evaluate(facts)["result"] == facts)
            except WasmEvaluationError as exc:
                outcomes.append(tag != "fine" and str(expected[tag]) in str(exc))
        return outcomes

    with ThreadPoolExecutor(max_workers=9) as pool:
        looping = pool.submit(engine.evaluate, {"tags": ["loop"]})  # spins while the others run
        outcomes = [ok for batch in pool.map(run, range(8)) for ok in batch]
        advance_until_done(engine, looping)  # only now: no other evaluation is running
    assert len(outcomes) == 480 and all(outcomes)
    with pytest.raises(WasmEvaluationError, match=DEADLINE):
        looping.result()
    assert engine.evaluate({"tags": ["fine"]})["result"] == {"tags": ["fine"]}
